# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ISC dhcpd lease table (dhcpd.leases).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on DHCP servers). Unparseable entries are skipped: the lease
table is a recovery source, a hook record stays authoritative.
"""

from __future__ import annotations

import calendar
import re
import time

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip
from ansible_collections.roamscan.qualys.plugins.module_utils._lease_row import lease_row, mac_or_none, sorted_by_ip


def _dhcpd_tokens(text):
    """Tokens of dhcpd.leases: words, quoted strings (unescaped), '{', '}', ';'."""
    tokens = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in ' \t\r\n':
            index += 1
        elif char == '#':
            end = text.find('\n', index)
            index = length if end < 0 else end
        elif char in '{};':
            tokens.append(char)
            index += 1
        elif char == '"':
            value = []
            index += 1
            while index < length and text[index] != '"':
                if text[index] == '\\' and index + 1 < length:
                    octal = re.match(r'[0-7]{3}', text[index + 1:index + 4])
                    if octal:
                        value.append(chr(int(octal.group(0), 8)))
                        index += 4
                        continue
                    index += 1
                value.append(text[index])
                index += 1
            tokens.append(('str', ''.join(value)))
            index += 1
        else:
            end = index
            while end < length and text[end] not in ' \t\r\n{};"#':
                end += 1
            tokens.append(text[index:end])
            index = end
    return tokens


def _dhcpd_time(words):
    """Epoch from 'ends 6 2026/11/28 06:40:08' / 'ends epoch 1795847938' words; None for never."""
    if words[:1] == ['epoch'] and len(words) > 1 and words[1].isdigit():
        return int(words[1])
    if len(words) >= 3:
        try:
            return calendar.timegm(time.strptime('%s %s' % (words[1], words[2]), '%Y/%m/%d %H:%M:%S'))
        except ValueError:
            return None
    return None


_DHCPD_STATES = {'active': 'active', 'free': 'free', 'released': 'released', 'expired': 'expired',
                 'abandoned': 'declined', 'backup': 'free', 'reset': 'free', 'bootp': 'active'}


def parse_dhcpd_leases(text, now):
    """ISC dhcpd.leases: append-only blocks, the last block per address wins."""
    tokens = _dhcpd_tokens(text)
    by_ip = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == 'lease' and index + 2 < len(tokens) and tokens[index + 2] == '{':
            ip_token = tokens[index + 1]
            index += 3
            statements, depth, words = [], 1, []
            while index < len(tokens) and depth:
                item = tokens[index]
                index += 1
                if item == '{':
                    depth += 1
                elif item == '}':
                    depth -= 1
                elif item == ';' and depth == 1:
                    statements.append(words)
                    words = []
                elif depth == 1:
                    words.append(item)
            if depth:
                break  # a block cut off at the end of the file (dhcpd is writing it)
            lease = _dhcpd_lease(ip_token, statements, now)
            if lease:
                by_ip[lease['ip']] = lease
        else:
            index += 1
    return sorted_by_ip(by_ip)


def _dhcpd_lease(ip_token, statements, now):
    if not isinstance(ip_token, str):
        return None
    try:
        ip = normalize_ip(ip_token)
    except InvalidIp:
        return None
    mac = hostname = ends = None
    binding = 'free'
    for words in statements:
        if words[:1] == ['ends']:
            ends = _dhcpd_time(words[1:])
        elif words[:2] == ['binding', 'state'] and len(words) > 2:
            binding = words[2]
        elif words[:2] == ['hardware', 'ethernet'] and len(words) > 2:
            mac = mac_or_none(words[2])
        elif words[:1] == ['client-hostname'] and len(words) > 1 and isinstance(words[1], tuple):
            hostname = words[1][1]
    state = _DHCPD_STATES.get(binding, 'free')
    if state == 'active' and ends is not None and ends <= now:
        state = 'expired'
    return lease_row(mac, ip, hostname, ends, state)
