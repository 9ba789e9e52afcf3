# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kea memfile lease table (kea-leases4.csv and its LFC files).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on DHCP servers). Unparseable entries are skipped: the lease
table is a recovery source, a hook record stays authoritative.
"""

from __future__ import annotations

import os

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip
from ansible_collections.roamscan.qualys.plugins.module_utils._lease_row import lease_row, mac_or_none, sorted_by_ip


def parse_kea_leases(texts, now):
    """Kea memfile CSV (texts: the files in load order). Last row per address wins;
    state 0 default, 1 declined, 2 expired-reclaimed. valid_lifetime 0 marks a deleted lease:
    Kea writes the same row for a release and for a reclaimed expiry, so it is reported as free
    (the hook's events tell the two apart)."""
    if isinstance(texts, str):
        texts = [texts]
    by_ip = {}
    for text in texts:
        columns = None
        for row in text.splitlines():
            cells = row.split(',')
            if cells and cells[0] == 'address':
                columns = {name: index for index, name in enumerate(cells)}
                continue
            if columns is None or len(cells) < len(columns) - 1:
                continue
            try:
                ip = normalize_ip(cells[columns['address']])
                valid = int(cells[columns['valid_lifetime']])
                expire = int(cells[columns['expire']])
                state_code = int(cells[columns['state']])
            except (InvalidIp, ValueError, KeyError, IndexError):
                continue
            hostname = cells[columns['hostname']] if 'hostname' in columns else ''
            mac = mac_or_none(cells[columns['hwaddr']]) if 'hwaddr' in columns else None
            if valid == 0:
                state = 'free'
            elif state_code == 1:
                state = 'declined'
            elif state_code == 2 or expire <= now:
                state = 'expired'
            else:
                state = 'active'
            by_ip[ip] = lease_row(mac, ip, hostname, expire, state)
    return sorted_by_ip(by_ip)


def kea_lease_files(path):
    """Kea memfile files in the order Kea loads them: LFC output (.completed) or its inputs
    (.2, .1), then the file Kea appends to."""
    if os.path.exists(path + '.completed'):
        return [path + '.completed', path]
    return [path + '.2', path + '.1', path]
