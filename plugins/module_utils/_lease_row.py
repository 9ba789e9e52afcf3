# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One lease-table row, the shape every lease-table parser returns.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on DHCP servers). A row is {mac, ip, hostname, expires, state}:
mac None when the server records none (a Kea declined address), hostname only if safe, expires
in the collection's time format or None (infinite). Tables hold the latest row per IP, by IP.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidMac, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import safe_hostname
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time

LEASE_STATES = ('active', 'released', 'expired', 'declined', 'free')


def lease_row(mac, ip, hostname, expires, state):
    """A row; expires is epoch seconds or None."""
    return {'mac': mac, 'ip': ip, 'hostname': safe_hostname(hostname), 'state': state,
            'expires': None if expires is None else iso_time(expires)}


def mac_or_none(value):
    """The normalised MAC, or None for a value that is not one (the row is kept without it)."""
    try:
        return normalize_mac(value)
    except InvalidMac:
        return None


def sorted_by_ip(by_ip):
    """The rows of an {ip: row} map, ordered by address."""
    return [by_ip[ip] for ip in sorted(by_ip, key=ipaddress.IPv4Address)]
