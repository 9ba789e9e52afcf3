# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The observation: what one presence source saw of one identity, whatever the source.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (the reader modules build observations on the servers).

    {id, source: {kind, host}, event: start|seen|end, why, identity: {kind, value}, ip, time,
     until, aliases, hostname, authority: table|log}

``why`` is the source's own word (spool record kind, or lease state for a table row).
``authority`` is a property of the source kind: a source whose live table the controller can
re-read is ``table``, a log-only source is ``log``. ``hostname`` and ``aliases`` are
client-supplied: recorded, never trusted for linking or crediting. ``id`` is the spool
record's stable id (None for a table row).
"""

from __future__ import annotations

TABLE_SOURCES = frozenset(('kea', 'dhcpd', 'dnsmasq', 'openvpn', 'ocserv', 'strongswan', 'wireguard'))
EVENTS = ('start', 'seen', 'end')
AUTHORITIES = ('table', 'log')


def authority_of(source_kind):
    """``table`` for a source with a live table the controller can re-read, else ``log``."""
    return 'table' if source_kind in TABLE_SOURCES else 'log'


def observation(source_kind, host, event, why, identity_kind, identity_value, ip, time, until=None,
                aliases=None, hostname=None, record_id=None):
    """One observation dict (values already validated by the record or table parser)."""
    return {
        'id': record_id,
        'source': {'kind': source_kind, 'host': host},
        'event': event,
        'why': why,
        'identity': {'kind': identity_kind, 'value': identity_value},
        'ip': ip,
        'time': time,
        'until': until,
        'aliases': dict(aliases or {}),
        'hostname': hostname,
        'authority': authority_of(source_kind),
    }


def from_record(record, host):
    """The observation of a parsed spool record (rs1 or rs2)."""
    return observation(record.source, host, record.event, record.kind, record.id_kind, record.id_value,
                       record.ip, record.time, until=record.lease_expires, aliases=record.aliases,
                       hostname=record.hostname, record_id=record.id)


def from_lease_row(server, row, host, time):
    """The observation of a lease-table row read at ``time``: an active lease is ``seen``,
    any other state ``end``. None for a row without a MAC (it names no identity)."""
    if row['mac'] is None:
        return None
    return observation(server, host, 'seen' if row['state'] == 'active' else 'end', row['state'], 'mac',
                       row['mac'], row['ip'], time, until=row['expires'], hostname=row['hostname'])
