# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dnsmasq lease table (dnsmasq.leases).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on DHCP servers). Unparseable entries are skipped: the lease
table is a recovery source, a hook record stays authoritative.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip
from ansible_collections.roamscan.qualys.plugins.module_utils._lease_row import lease_row, mac_or_none, sorted_by_ip


def parse_dnsmasq_leases(text, now):
    """dnsmasq.leases: '<expiry epoch|0> <MAC> <IP> <hostname|*> <client-id|*>' per lease."""
    by_ip = {}
    for row in text.splitlines():
        cells = row.split(' ')
        if len(cells) < 4 or not cells[0].isdigit():
            continue  # also the 'duid ...' line and IPv6 rows' IAIDs fail below
        mac = mac_or_none(cells[1])
        try:
            ip = normalize_ip(cells[2])
        except InvalidIp:
            continue
        if mac is None:
            continue
        expires = int(cells[0]) or None
        state = 'expired' if expires is not None and expires <= now else 'active'
        by_ip[ip] = lease_row(mac, ip, None if cells[3] == '*' else cells[3], expires, state)
    return sorted_by_ip(by_ip)
