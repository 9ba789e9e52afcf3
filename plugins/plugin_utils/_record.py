# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The identity record: its schema, validation, upgrade, and the questions every stage asks of it.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

One record per identity (a MAC, a VPN certificate or user name, a WireGuard key, an AD machine or user, an
imported identity: _identity.py), schema 1, stored under the fact key ``roamscan`` (_store.py keys)::

    {schema: 1, identity: {kind, value}, mac, ip, hostname, first_seen, last_seen, lease_state, lease_expires,
     held_since, source: {kind, host}, authority: table|log, dhcp_server, ip_history: [{ip, from, to}],
     last_scanned, last_scan_ref, pending: {scan_ref, ip, launched_at, title} | null}

``mac`` is the MAC of a MAC identity and null for the others; ``dhcp_server`` (the inventory name of the DHCP
server of the holding) is kept on MAC records for the readers of release 0.x. ``source`` is the presence source of
the current holding (its kind, e.g. ``kea`` or ``openvpn``, and the inventory host that reported it) and
``authority`` whether that source has a live table the cycle re-reads (``table``, also when absent) or only a log
(``log``). Records written before identities had records of their own (MAC records without ``identity``) are
upgraded when read (:func:`upgrade_record`); their source kind is then ``dhcp``.

Optional fields: ``links`` (``[{identity, kind, since, evidence}]``, authenticated identities proven to be this
MAC's device: _devices.py), ``unlinked`` (``[{identity, at, reason, evidence}]``, links the operator removed, never
made again), ``last_scan_via`` (the linked identity whose holding proved the last scan) and
``last_scan_authority`` (``log`` when the holding that proved the last scan came from a log-only source).

The *holding* of a record is the identity's current hold of ``ip`` (a DHCP lease, a VPN session): it is open while
``lease_state`` is ``active`` and started at ``held_since``; ``lease_expires`` is the lease or session end when the
source says it. Closed holdings move to ``ip_history`` (newest last, bounded). When a holding ends without an exact
time (a lost release, the IP seen with another identity), it is closed at ``last_seen``, the last moment there was
evidence of it: crediting a scan then needs proof, never a guess.

``pending.scan_ref`` is null between recording a launch intent and recording the launched scan;
``pending.title`` is the deterministic title of that cycle's launch, so a run killed in between is
resumed with the same title and the launch module's ``reuse_active`` returns the scan that already
exists instead of starting a second one. ``pending.done_at`` is when the scan was first seen finished while the
holding's evidence did not yet reach that moment (a VPN session, whose end is only known once it ends).

Every time is the collection's ISO-8601 UTC string (module_utils/_time.py); they compare as strings.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import normalize_ip
from ansible_collections.roamscan.qualys.plugins.module_utils._time import parse_time, shift
from ansible_collections.roamscan.qualys.plugins.plugin_utils._identity import InvalidIdentity, identity_key, identity_of

SCHEMA = 1
IP_HISTORY_LIMIT = 16
# lease_state of a record whose IP was seen held by another identity.
REASSIGNED = 'reassigned'
AUTHORITIES = ('table', 'log')
# source kind of the holding of a MAC record written before records named their source
UPGRADED_SOURCE_KIND = 'dhcp'
_RECORD_TIMES = ('first_seen', 'last_seen', 'lease_expires', 'held_since', 'last_scanned')


class InvalidRecord(ValueError):
    """A stored identity record that does not follow the record schema."""


def new_record(key, seen_at):
    """A record of the identity ``key`` (an identity key, _identity.py) first seen at ``seen_at``."""
    identity = identity_of(key)
    return {
        'schema': SCHEMA, 'identity': identity, 'mac': key if identity['kind'] == 'mac' else None,
        'ip': None, 'hostname': None, 'first_seen': seen_at,
        'last_seen': None, 'lease_state': None, 'lease_expires': None, 'held_since': None,
        'source': None, 'authority': 'table', 'dhcp_server': None, 'ip_history': [], 'last_scanned': None,
        'last_scan_ref': None, 'pending': None,
    }


def record_key(record):
    """The identity key of a record (raises InvalidRecord when the record names no usable identity)."""
    identity = record.get('identity')
    if identity is None and record.get('mac') is not None:
        identity = {'kind': 'mac', 'value': record['mac']}   # a record not yet upgraded
    if not isinstance(identity, dict):
        raise InvalidRecord('record names no identity')
    try:
        return identity_key(identity.get('kind'), identity.get('value'))
    except InvalidIdentity as exc:
        raise InvalidRecord('record identity: %s' % exc) from None


def upgrade_record(record):
    """Give a MAC record written before identities had records of their own its ``identity``, ``source`` and
    ``authority`` (in place; returns it). Other records are returned as they are."""
    if 'identity' not in record and isinstance(record.get('mac'), str):
        record['identity'] = {'kind': 'mac', 'value': record['mac']}
        server = record.get('dhcp_server')
        record.setdefault('source', {'kind': UPGRADED_SOURCE_KIND, 'host': server} if server else None)
        record.setdefault('authority', 'table')
    return record


def validate_record(record, key):
    """Return the record (upgraded: :func:`upgrade_record`) if it is usable for identity ``key``, else raise
    InvalidRecord."""
    if not isinstance(record, dict):
        raise InvalidRecord('record is a %s, not a mapping' % type(record).__name__)
    if record.get('schema') != SCHEMA:
        raise InvalidRecord('unknown record schema %r (this collection writes schema %d)'
                            % (record.get('schema'), SCHEMA))
    upgrade_record(record)
    found = record_key(record)
    if found != key:
        raise InvalidRecord('record is for identity %r, stored under %s' % (found, key))
    if (record.get('mac') is not None) != (record['identity']['kind'] == 'mac') or (
            record.get('mac') is not None and record['mac'] != key):
        raise InvalidRecord('record of identity %s has mac %r' % (key, record.get('mac')))
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
    if record.get('authority', 'table') not in AUTHORITIES:
        raise InvalidRecord('authority is %r, not one of %s' % (record.get('authority'), ', '.join(AUTHORITIES)))
    source = record.get('source')
    if source is not None and not (isinstance(source, dict) and isinstance(source.get('kind'), str)):
        raise InvalidRecord('source is not {kind, host}')
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
        if pending.get('done_at') is not None:
            parse_time(pending['done_at'])


def authority(record):
    """``table`` or ``log``: the authority of the source of the record's holdings."""
    return record.get('authority') or 'table'


def is_present(record, now):
    """Holding open and not run out: the identity holds ``ip`` now."""
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
    """True when the record proves this identity held ``ip`` for the whole of [start, end]."""
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
