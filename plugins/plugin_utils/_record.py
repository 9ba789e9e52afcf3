# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptop record: its schema, validation, and the questions every stage asks of it.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

A laptop record (schema 1, stored under the fact key ``roamscan`` of host ``mac-...``)::

    {schema: 1, mac, ip, hostname, first_seen, last_seen, lease_state, lease_expires, held_since,
     dhcp_server, ip_history: [{ip, from, to}], last_scanned, last_scan_ref,
     pending: {scan_ref, ip, launched_at, title} | null}

A record is the identity record of one MAC. Optional fields: ``links`` (``[{identity, kind, since,
evidence}]``, authenticated identities proven to be this MAC's device: _devices.py), ``unlinked``
(``[{identity, at, reason, evidence}]``, links the operator removed, never made again), ``last_scan_via``
(the linked identity whose holding proved the last scan) and ``authority`` (``table`` or ``log``, of the
source of its holdings; ``table`` when absent, as every DHCP lease table is).

The *holding* of a record is the MAC's current lease of ``ip``: it is open while ``lease_state``
is ``active`` and started at ``held_since``. Closed holdings move to ``ip_history`` (newest last,
bounded). When a holding ends without an exact time (a lost release, the IP seen with another MAC),
it is closed at ``last_seen``, the last moment there was evidence of it: crediting a scan then
needs proof, never a guess.

``pending.scan_ref`` is null between recording a launch intent and recording the launched scan;
``pending.title`` is the deterministic title of that cycle's launch, so a run killed in between is
resumed with the same title and the launch module's ``reuse_active`` returns the scan that already
exists instead of starting a second one.

Every time is the collection's ISO-8601 UTC string (module_utils/_time.py); they compare as strings.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import normalize_ip
from ansible_collections.roamscan.qualys.plugins.module_utils._time import parse_time, shift

SCHEMA = 1
IP_HISTORY_LIMIT = 16
# lease_state of a record whose IP was seen leased to another MAC.
REASSIGNED = 'reassigned'
_RECORD_TIMES = ('first_seen', 'last_seen', 'lease_expires', 'held_since', 'last_scanned')


class InvalidRecord(ValueError):
    """A stored laptop record that does not follow the record schema."""


def new_record(mac, seen_at):
    return {
        'schema': SCHEMA, 'mac': mac, 'ip': None, 'hostname': None, 'first_seen': seen_at,
        'last_seen': None, 'lease_state': None, 'lease_expires': None, 'held_since': None,
        'dhcp_server': None, 'ip_history': [], 'last_scanned': None, 'last_scan_ref': None,
        'pending': None,
    }


def validate_record(record, mac):
    """Return the record if it is usable for laptop ``mac``, else raise InvalidRecord."""
    if not isinstance(record, dict):
        raise InvalidRecord('record is a %s, not a mapping' % type(record).__name__)
    if record.get('schema') != SCHEMA:
        raise InvalidRecord('unknown record schema %r (this collection writes schema %d)'
                            % (record.get('schema'), SCHEMA))
    if record.get('mac') != mac:
        raise InvalidRecord('record is for MAC %r, stored under %s' % (record.get('mac'), mac))
    try:
        _validate_fields(record)
    except InvalidRecord:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidRecord('malformed field: %s' % exc) from None
    if record.get('lease_state') == 'active' and None in (record.get('ip'), record.get('held_since'), record.get('last_seen')):
        raise InvalidRecord('active lease without ip, held_since or last_seen')
    return record


def _validate_fields(record):
    for key in _RECORD_TIMES:
        if record.get(key) is not None:
            parse_time(record[key])
    if record.get('ip') is not None:
        normalize_ip(record['ip'])
    history = record.get('ip_history')
    if not isinstance(history, list):
        raise InvalidRecord('ip_history is not a list')
    for entry in history:
        if not isinstance(entry, dict):
            raise InvalidRecord('ip_history entry is not a mapping')
        normalize_ip(entry['ip'])
        parse_time(entry['from'])
        parse_time(entry['to'])
    links = record.get('links', [])
    if not isinstance(links, list) or not all(isinstance(link, dict) and isinstance(link.get('identity'), str) for link in links):
        raise InvalidRecord('links is not a list of {identity, kind, since, evidence}')
    unlinked = record.get('unlinked', [])
    if not isinstance(unlinked, list) or not all(isinstance(item, dict) and isinstance(item.get('identity'), str) for item in unlinked):
        raise InvalidRecord('unlinked is not a list of {identity, at, reason, evidence}')
    pending = record.get('pending')
    if pending is not None:
        if not isinstance(pending, dict):
            raise InvalidRecord('pending is not a mapping')
        normalize_ip(pending['ip'])
        parse_time(pending['launched_at'])


def is_present(record, now):
    """Lease active and not run out: the laptop holds ``ip`` now."""
    return (record.get('lease_state') == 'active' and record.get('ip') is not None
            and (record.get('lease_expires') is None or record['lease_expires'] > now))


def overdue_since(record, rescan_days):
    """When the laptop became due: last scan + rescan_days, or first_seen if never scanned."""
    if record.get('last_scanned'):
        return shift(record['last_scanned'], days=rescan_days)
    return record.get('first_seen')


def is_overdue(record, now, rescan_days):
    due = overdue_since(record, rescan_days)
    return due is None or due <= now


def open_holding(record, ip):
    """``(held_since, evidence_until)`` of the record's open holding of ``ip``, or None.

    ``evidence_until`` is the last moment there is proof of it: the last sighting or the lease's
    expiry, whichever is later.
    """
    if record.get('ip') != ip or record.get('lease_state') != 'active':
        return None
    return record['held_since'], max(record.get('last_seen') or '', record.get('lease_expires') or '')


def held_throughout(record, ip, start, end):
    """True when the record proves this MAC held ``ip`` for the whole of [start, end]."""
    holding = open_holding(record, ip)
    if holding is not None and holding[0] <= start and holding[1] >= end:
        return True
    return any(entry['ip'] == ip and entry['from'] <= start and entry['to'] >= end for entry in record.get('ip_history') or [])


def held_at(record, ip, moment):
    """When the holding of ``ip`` that covers ``moment`` began (its ``held_since`` / ``from``), or None."""
    holding = open_holding(record, ip)
    if holding is not None and holding[0] <= moment <= holding[1]:
        return holding[0]
    return next((entry['from'] for entry in reversed(record.get('ip_history') or [])
                 if entry['ip'] == ip and entry['from'] <= moment <= entry['to']), None)
