# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease table of a DHCP server, read from its own lease database (one parser per server).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on DHCP servers). Rows: see _lease_row.
"""

from __future__ import annotations

import time

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_table_dhcpd import parse_dhcpd_leases
from ansible_collections.roamscan.qualys.plugins.module_utils._lease_table_dnsmasq import parse_dnsmasq_leases
from ansible_collections.roamscan.qualys.plugins.module_utils._lease_table_kea import kea_lease_files, parse_kea_leases

DEFAULT_LEASE_FILES = {
    'kea': '/var/lib/kea/kea-leases4.csv',
    'dhcpd': '/var/lib/dhcp/dhcpd.leases',
    'dnsmasq': '/var/lib/misc/dnsmasq.leases',
}
# server -> (the files of its database in load order, parser of their texts)
_PARSERS = {
    'kea': (kea_lease_files, parse_kea_leases),
    'dhcpd': (lambda path: [path], lambda texts, now: parse_dhcpd_leases(texts[0], now)),
    'dnsmasq': (lambda path: [path], lambda texts, now: parse_dnsmasq_leases(texts[0], now)),
}


class LeaseFileError(Exception):
    """A lease database that cannot be read."""


def read_lease_table(server, path=None, now=None):
    """The current lease table of ``server`` from its lease database at ``path`` (default: Debian's)."""
    if server not in _PARSERS:
        raise LeaseFileError('unknown DHCP server %r (expected one of %s)' % (server, ', '.join(sorted(_PARSERS))))
    path = path or DEFAULT_LEASE_FILES[server]
    now = time.time() if now is None else now
    files, parse = _PARSERS[server]
    texts = []
    for name in files(path):
        try:
            with open(name, 'rb') as handle:
                texts.append(handle.read().decode('utf-8', 'replace'))
        except FileNotFoundError:
            if name == path:
                raise LeaseFileError('lease file %s does not exist' % path) from None
        except OSError as exc:
            raise LeaseFileError('cannot read lease file %s: %s' % (name, exc.strerror)) from None
    return parse(texts, now)
