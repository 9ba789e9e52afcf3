# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Devices, not MACs: identities linked into devices only on evidence a laptop cannot forge.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

An *identity* is what a presence source names a client by: ``{kind, value}`` with kind one of
``ID_KINDS`` (mac, vpn_cert, vpn_user, wg_key, ad_machine, ad_user, imported). In memory it is an
*identity key*: the normalised MAC for a MAC (so MAC records keep their keys), ``<kind>:<value>`` otherwise.

A *device* is a set of identities joined by *links*. A link is made only from

- the operator's alias list (``roamscan_device_aliases`` and/or the file ``roamscan_device_aliases_file``):
  recomputed every cycle, so an alias the operator removes is unlinked on the next cycle; or
- an authenticated identity (``vpn_cert``, ``ad_machine``) seen at an IP that a MAC held at that
  moment (:func:`authenticated_links`): stored on the MAC record with its evidence and time.

Never from client-supplied fields (DHCP host names, OpenVPN IV_HWADDR and other aliases): a laptop
that names itself like another gets nothing of the other's.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip
from ansible_collections.roamscan.qualys.plugins.plugin_utils._identity import (  # noqa: F401 pylint: disable=unused-import
    InvalidIdentity,
    identity_key,  # part of this module's API: the key of an identity
    identity_of,
    kind_of,
)
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import authority, held_at, is_present, overdue_since

AUTHENTICATED_KINDS = ('vpn_cert', 'ad_machine')
_SAFE_NAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._@ -]{0,127}$')
MAX_ALIAS_FILE_BYTES = 4 * 1024 * 1024
MAX_DEVICES = 100000
MAX_IDENTITIES_PER_DEVICE = 64
MAX_LINKS_PER_RECORD = 16
MAX_UNLINKED_PER_RECORD = 64
# of the identities present, the holding a device is scanned on: a live table over a log, then the newest
AUTHORITY_RANK = {'log': 0, 'table': 1}
# source kinds whose holdings are DHCP leases (records of 0.x name only their dhcp_server)
DHCP_SOURCES = ('kea', 'dhcpd', 'dnsmasq', 'dhcp')


class AliasError(ValueError):
    """The alias list as a whole cannot be used (unreadable file, not a list); the message says why."""


def parse_identity(given):
    """The identity key of an alias-list entry: ``kind:value`` (``mac:02:77:00:00:0a:01``) or ``{kind, value}``."""
    if isinstance(given, dict):
        return identity_key(given.get('kind'), given.get('value'))
    if not isinstance(given, str):
        raise InvalidIdentity('an identity is "kind:value" or {kind, value}, not a %s' % type(given).__name__)
    kind, sep, value = given.partition(':')
    if not sep:
        raise InvalidIdentity('identity %r has no kind (write kind:value, e.g. mac:02:77:00:00:0a:01)' % given[:64])
    return identity_key(kind.strip(), value.strip())


# -- the operator's alias list ------------------------------------------------------------------

def read_alias_file(path):
    """The entries of an alias file: YAML (a list of ``{device, identities}``, or ``{devices: [...]}``) or CSV
    (``device,identity`` rows, one identity per row; a header row is allowed). Raises AliasError."""
    try:
        with open(path, 'rb') as handle:
            data = handle.read(MAX_ALIAS_FILE_BYTES + 1)
    except OSError as exc:
        raise AliasError('roamscan_device_aliases_file %s cannot be read: %s' % (path, exc.strerror or exc)) from None
    if len(data) > MAX_ALIAS_FILE_BYTES:
        raise AliasError('roamscan_device_aliases_file %s is larger than %d bytes' % (path, MAX_ALIAS_FILE_BYTES))
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise AliasError('roamscan_device_aliases_file %s is not UTF-8 text: %s' % (path, exc)) from None
    if os.path.splitext(path)[1].lower() == '.csv':
        return _csv_entries(text)
    import yaml  # pylint: disable=import-outside-toplevel  # ansible-core's own dependency
    try:
        loaded = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise AliasError('roamscan_device_aliases_file %s is not valid YAML: %s' % (path, str(exc)[:300])) from None
    if isinstance(loaded, dict) and set(loaded) == {'devices'}:
        loaded = loaded['devices']
    if loaded is None:
        return []
    if not isinstance(loaded, list):
        raise AliasError('roamscan_device_aliases_file %s must hold a list of {device, identities} (or {devices: [...]}), '
                         'not a %s' % (path, type(loaded).__name__))
    return loaded


def _csv_entries(text):
    grouped, order = {}, []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if not row or all(not cell.strip() for cell in row) or row[0].lstrip().startswith('#'):
            continue
        if number == 1 and [cell.strip().lower() for cell in row[:2]] == ['device', 'identity']:
            continue
        name = row[0].strip()
        if name not in grouped:
            grouped[name] = {'device': name, 'identities': [], 'line': number}
            order.append(name)
        grouped[name]['identities'].append(row[1].strip() if len(row) == 2 else {'invalid row': len(row)})
    return [grouped[name] for name in order]


def read_alias_settings(settings):
    """``(groups, skipped)`` of the cycle settings' ``device_aliases`` and ``device_aliases_file`` together (an
    identity in both is skipped where it comes second, the variable first). Raises AliasError."""
    owner = {}
    groups, skipped = load_aliases(settings.get('device_aliases'), 'roamscan_device_aliases', owner)
    if settings.get('device_aliases_file'):
        path = settings['device_aliases_file']
        more, bad = load_aliases(read_alias_file(path), path, owner)
        groups, skipped = groups + more, skipped + bad
    return groups, skipped


def load_aliases(entries, source='roamscan_device_aliases', owner=None):
    """``(groups, skipped)`` of alias-list ``entries``.

    ``groups`` is ``[{device, identities: [key, ...], source}]``; an entry that cannot be used (not a mapping,
    no or a bad name, an unusable identity, fewer than two identities, an identity already in an earlier entry,
    too many) is skipped whole and listed in ``skipped`` as ``{source, entry, reason}``: nothing of it is linked.
    """
    if entries is None:
        return [], []
    if not isinstance(entries, list):
        raise AliasError('%s must be a list of {device, identities}, not a %s' % (source, type(entries).__name__))
    groups, skipped = [], []
    owner = {} if owner is None else owner
    for position, entry in enumerate(entries):
        where = '%s[%d]' % (source, position)
        try:
            if len(groups) >= MAX_DEVICES:
                raise InvalidIdentity('more than %d devices' % MAX_DEVICES)
            group = _alias_group(entry, owner)
        except InvalidIdentity as exc:
            skipped.append({'source': source, 'entry': where, 'reason': str(exc)[:300]})
            continue
        for key in group['identities']:
            owner[key] = group['device']
        group['source'] = source
        groups.append(group)
    return groups, skipped


def _alias_group(entry, owner):
    if not isinstance(entry, dict):
        raise InvalidIdentity('an entry is {device, identities}, not a %s' % type(entry).__name__)
    name = entry.get('device')
    if not isinstance(name, str) or not _SAFE_NAME.match(name):
        raise InvalidIdentity('device name must be [A-Za-z0-9][A-Za-z0-9._@ -]{0,127}, got %r' % (str(name)[:64],))
    given = entry.get('identities')
    if not isinstance(given, list):
        raise InvalidIdentity('device %s: identities must be a list' % name)
    if len(given) > MAX_IDENTITIES_PER_DEVICE:
        raise InvalidIdentity('device %s: more than %d identities' % (name, MAX_IDENTITIES_PER_DEVICE))
    keys = []
    for item in given:
        key = parse_identity(item)
        if key in owner:
            raise InvalidIdentity('device %s: identity %s is already in device %s' % (name, key, owner[key]))
        if key not in keys:
            keys.append(key)
    if len(keys) < 2:
        raise InvalidIdentity('device %s: fewer than two identities link nothing' % name)
    return {'device': name, 'identities': keys}


# -- authenticated links -------------------------------------------------------------------------

def authenticated_links(observations, records):
    """Links proven by an authenticated identity seen at an IP a MAC held at that moment.

    ``observations`` are presence observations (module_utils/_observation.py); ``records`` ``{identity key: record}``
    (holders of the observed IPs loaded; only MAC records are looked at). Only identities of ``AUTHENTICATED_KINDS`` seen (``start``/``seen``)
    count; their aliases and host names are never looked at. Returns ``{mac: [link, ...]}`` with
    ``link = {identity, kind: authenticated, since, evidence: {source, host, ip, time, held_since}}``.
    """
    found = {}
    for obs in observations:
        identity = obs.get('identity') if isinstance(obs, dict) else None
        if not isinstance(identity, dict) or identity.get('kind') not in AUTHENTICATED_KINDS or obs.get('event') not in ('start', 'seen'):
            continue
        try:
            key = identity_key(identity['kind'], identity.get('value'))
            ip = normalize_ip(obs.get('ip') or '')
        except (InvalidIdentity, InvalidAddress):
            continue
        moment = obs.get('time')
        if not isinstance(moment, str):
            continue
        for mac, record in records.items():
            since = held_at(record, ip, moment) if kind_of(mac) == 'mac' else None
            if since is None:
                continue
            source = obs.get('source') if isinstance(obs.get('source'), dict) else {}
            found.setdefault(mac, []).append({
                'identity': key, 'kind': 'authenticated', 'since': moment,
                'evidence': {'source': source.get('kind'), 'host': source.get('host'), 'ip': ip, 'time': moment,
                             'held_since': since}})
    return found


def add_links(records, links):
    """Store new ``links`` (``{mac: [link]}``) on their MAC records; an existing link keeps its first evidence, and an
    identity the operator unlinked from the record (its ``unlinked``: :func:`unlink`) is never linked to it again.

    Returns the MACs changed.
    """
    changed = set()
    for mac, new in links.items():
        record = records.get(mac)
        if record is None:
            continue
        known = {link['identity'] for link in record.get('links') or []}
        known |= {item['identity'] for item in record.get('unlinked') or []}   # the operator removed it: never again
        for link in new:
            if link['identity'] not in known:
                record.setdefault('links', []).append(link)
                known.add(link['identity'])
                changed.add(mac)
        del record['links'][:-MAX_LINKS_PER_RECORD]
    return changed


# -- devices ---------------------------------------------------------------------------------------

class Devices:
    """The devices of ``records`` (``{identity key: record}``) under the alias ``groups``.

    ``of(key)`` is the device of an identity: ``{id, name, identities, links}``; an identity nothing links
    is a device of its own (``linked`` False).
    """

    def __init__(self, records, groups=()):
        self._parent = {}
        self._by_key = None
        self._links = {}
        self._names = {}
        for group in groups:
            first = group['identities'][0]
            for key in group['identities']:
                self._union(first, key)
                if key != first:
                    self._links.setdefault(first, []).append(
                        {'identity': key, 'with': first, 'kind': 'alias', 'evidence': {'source': group['source'],
                                                                                       'device': group['device']}})
            self._names[first] = group['device']
        for key, record in records.items():
            self._find(key)
            for link in record.get('links') or []:
                self._union(key, link['identity'])
                self._links.setdefault(key, []).append(dict(link, **{'with': key}))

    def _find(self, key):
        parent = self._parent.setdefault(key, key)
        while parent != self._parent[parent]:
            self._parent[parent] = self._parent[self._parent[parent]]
            parent = self._parent[parent]
        self._parent[key] = parent
        return parent

    def _union(self, one, other):
        first, second = self._find(one), self._find(other)
        if first != second:
            self._parent[max(first, second)] = min(first, second)

    def members(self):
        """``{root: [identity key, ...]}`` of every device."""
        found = {}
        for key in self._parent:
            found.setdefault(self._find(key), []).append(key)
        return {root: sorted(keys) for root, keys in found.items()}

    def of(self, key):
        if self._by_key is None:
            self._by_key = {}
            for root, keys in self.members().items():
                device = self._describe(root, keys)
                self._by_key.update(dict.fromkeys(keys, device))
        return self._by_key.get(key) or self._describe(key, [key])

    def all(self):
        """Every device, by id."""
        return {device['id']: device for device in (self._describe(root, keys) for root, keys in self.members().items())}

    def _describe(self, root, keys):
        name = next((self._names[key] for key in keys if key in self._names), None)
        links = [link for key in keys for link in self._links.get(key, [])]
        return {'id': device_id(root), 'name': name or root, 'identities': keys, 'links': links, 'linked': len(keys) > 1}


def device_id(root):
    """A device's stable name: ``roamscan-device-`` and a digest of its smallest identity key."""
    return 'roamscan-device-' + hashlib.sha256(root.encode('utf-8')).hexdigest()[:16]


# -- removing links --------------------------------------------------------------------------------

def unlink(records, identity, now, reason=None):
    """Remove the authenticated links to ``identity`` (a key) from ``records`` (``{key: record}``) and remember it.

    The identity goes to each record's ``unlinked`` (``[{identity, at, reason, evidence}]``, the removed link's
    evidence kept), so that a later sighting at the same IP does not link it again; only the alias list joins them
    then. Returns ``[{record, link}]`` of the links removed (the evidence as it was).
    """
    removed = []
    for key in sorted(records):
        record = records[key]
        links = record.get('links') or []
        gone = [link for link in links if link.get('identity') == identity]
        if not gone:
            continue
        record['links'] = [link for link in links if link.get('identity') != identity]
        unlinked = [item for item in record.get('unlinked') or [] if item.get('identity') != identity]
        unlinked.append({'identity': identity, 'at': now, 'reason': reason, 'evidence': gone[0].get('evidence')})
        record['unlinked'] = unlinked[-MAX_UNLINKED_PER_RECORD:]
        removed.extend({'record': key, 'link': link} for link in gone)
    return removed


# -- what a device is, for the inventory and the report ---------------------------------------------

def record_source(record):
    """``{kind, host, authority}`` of the source of a record's holdings (``dhcp`` with its server for 0.x records)."""
    source = record.get('source') if isinstance(record.get('source'), dict) else {}
    host = source.get('host') or record.get('dhcp_server')
    kind = source.get('kind') or ('dhcp' if host or record.get('mac') else None)
    return {'kind': kind, 'host': host, 'authority': authority(record)}


def scan_state(members, rescan_days):
    """``(last_scanned, record scanned last, due)`` of a device's records: the newest credited scan of any, and when
    the device falls due (that scan plus ``rescan_days``, or its first sighting when never scanned)."""
    scanned = [record for record in members if record.get('last_scanned')]
    last = max(scanned, key=lambda record: record['last_scanned']) if scanned else None
    seen = [record['first_seen'] for record in members if record.get('first_seen')]
    due = overdue_since({'last_scanned': last['last_scanned'] if last else None, 'first_seen': min(seen) if seen else None},
                        rescan_days)
    return (last['last_scanned'] if last else None), last, due


def scanned_holding(present):
    """Of ``[(key, record)]`` present now, the one a device is scanned on: the most authoritative, then the newest."""
    return max(present, key=lambda item: (AUTHORITY_RANK.get(authority(item[1]), 0), item[1]['held_since'], item[0]))


def device_view(device, records, now, rescan_days):
    """What one device (``Devices.of()``) is, from the records of its identities (``{key: record}``, those loaded).

    ``{device, name, linked, identities, sources, links, holding_identity, ip, mac, hostname, dhcp_server, present, pending, first_seen,
    last_seen, last_scanned, last_scan_ref, last_scan_identity, overdue, overdue_since}``. ``identities`` lists every
    identity of the device as ``{key, kind, value, source, present, ip, last_seen, last_scanned}`` (``source`` None
    for one with no record); ``sources`` is ``[{kind, host, authority}]``. The scan fields are the device's (the
    newest credited scan of any identity); ``ip`` is the address of ``holding_identity``: the one it is scanned on
    when present (the cycle's rule), else the one seen last.
    """
    keys = [key for key in device['identities'] if key in records]
    identities, sources = [], []
    for key in device['identities']:
        record = records.get(key)
        if record is None:   # linked, no holding of its own recorded (or not loaded)
            identities.append(dict(identity_of(key), key=key, source=None, present=False, ip=None, last_seen=None,
                                   last_scanned=None))
            continue
        source = record_source(record)
        identities.append(dict(identity_of(key), key=key, source=source, present=is_present(record, now),
                               ip=record.get('ip'), last_seen=record.get('last_seen'), last_scanned=record.get('last_scanned')))
        if source['kind'] and source not in sources:
            sources.append(source)
    members = [records[key] for key in keys]
    last, scanned_by, due = scan_state(members, rescan_days)
    present = [(key, records[key]) for key in keys if is_present(records[key], now)]
    seen = [(records[key].get('last_seen') or '', key) for key in keys]
    shown_key = scanned_holding(present)[0] if present else (max(seen)[1] if seen else None)
    shown = records.get(shown_key) or {}
    pending = [records[key]['pending'] for key in keys if records[key].get('pending')]
    firsts = [record['first_seen'] for record in members if record.get('first_seen')]
    lasts = [record['last_seen'] for record in members if record.get('last_seen')]
    return {
        'device': device['id'], 'name': device['name'], 'linked': device['linked'], 'identities': identities,
        'sources': sorted(sources, key=lambda item: (item['kind'] or '', item['host'] or '')), 'links': device['links'],
        'holding_identity': shown_key, 'ip': shown.get('ip'), 'mac': next((item['value'] for item in identities if item['kind'] == 'mac'), None),
        'hostname': shown.get('hostname') or next((records[key].get('hostname') for key in keys if records[key].get('hostname')), None),
        'dhcp_server': next((item['source']['host'] for item in identities
                             if item['key'] == shown_key and item['source'] and item['source']['kind'] in DHCP_SOURCES),
                            next((item['host'] for item in sources if item['kind'] in DHCP_SOURCES), None)),
        'present': bool(present), 'pending': pending[0] if pending else None,
        'first_seen': min(firsts) if firsts else None, 'last_seen': max(lasts) if lasts else None,
        'last_scanned': last, 'last_scan_ref': scanned_by.get('last_scan_ref') if scanned_by else None,
        'last_scan_identity': (next(key for key in keys if records[key] is scanned_by) if scanned_by else None),
        'overdue': due is None or due <= now, 'overdue_since': due,
    }


def device_views(records, groups, now, rescan_days):
    """One :func:`device_view` per device of ``records`` under the alias ``groups``, sorted by device name."""
    devices = Devices(records, groups)
    views = [device_view(device, records, now, rescan_days) for device in devices.all().values()
             if any(key in records for key in device['identities'])]
    return sorted(views, key=lambda view: (view['name'], view['device']))
