# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage remember: presence_events (or lease_events) results turned into observations and folded into identity records.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Every identity kind is folded the same way (_record.py holdings): a DHCP lease, a VPN session, a WireGuard handshake
or a domain-controller logon opens or refreshes the identity's holding of an IP; an end closes it. An IP has one
holder: a new holder closes the old holder's holding (``reassigned``) whatever their kinds, except that a
domain-controller identity seen at an IP a MAC holds leaves the MAC's lease alone (_identity.keeps_holder).
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._lease_row import LEASE_STATES
from ansible_collections.roamscan.qualys.plugins.module_utils._observation import AUTHORITIES, TABLE_SOURCES, authority_of
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import ENDING_KINDS, PRESENCE_KINDS, SERVERS
from ansible_collections.roamscan.qualys.plugins.module_utils._time import normalize_time, shift
from ansible_collections.roamscan.qualys.plugins.plugin_utils._identity import COHOLDER_KINDS, InvalidIdentity, identity_key, keeps_holder, kind_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import IP_HISTORY_LIMIT, REASSIGNED, held_at, new_record, record_key

# a session that began (a VPN connect): a new holding, even of the IP the identity held before
CONNECT = 'connect'
_EVENT_KINDS = {'start': 'lease', 'seen': 'renew', 'end': 'expire'}
# the internal kind of an observation of another identity than a MAC, by its event
_SESSION_KINDS = {'start': CONNECT, 'seen': 'renew', 'end': 'release'}


class InvalidObservation(ValueError):
    """An event or lease-table row that cannot be used."""


_UNUSABLE = (InvalidObservation, InvalidIdentity, InvalidAddress, ValueError, KeyError, AttributeError, TypeError)


class PresenceResult(dict):
    """One presence host's registered result (``presence_events``, ``lease_events``, ``wireguard_peers``,
    ``logon_events``, ``log_presence``) as the stages read it: a copy that names its host (``server_name``) and
    parses into observations at most once (``observations_from_report``), however often the stage asks (which
    identities to load, the fold, the live tables' holders)."""

    __slots__ = ('parsed',)

    def __init__(self, host, result):
        super().__init__(result if isinstance(result, dict) else {}, server_name=host)
        self.parsed = None


def observations_from_report(report, fallback_server=None):
    """Observations of one ``presence_events`` (or ``lease_events``) result, and the entries skipped.

    Returns ``(observations, skipped)``. An observation is a dict ``{time, order, kind, key, mac, ip, hostname,
    expires, server, source, authority}`` (``key`` the identity key, ``mac`` the MAC of a MAC identity, else None);
    table rows become kind ``table`` (with ``state``), ordered after all events of that read. A PresenceResult is
    parsed once; its observations are shared, not to be changed.
    """
    if isinstance(report, PresenceResult):
        if report.parsed is None:
            report.parsed = _parse_report(report, fallback_server)
        return report.parsed
    return _parse_report(report, fallback_server)


def _parse_report(report, fallback_server):
    server = _server_of(report, fallback_server)
    try:
        read_at = normalize_time(report['now'])
    except (KeyError, ValueError) as exc:
        return [], [{'server': server, 'entry': 'report', 'reason': 'no usable "now" in lease_events result: %s' % exc}]
    if 'observations' in report or 'table' in report:
        return _presence_observations(report, server, read_at)
    return _lease_event_observations(report, server, read_at)


def _lease_event_observations(report, server, read_at):
    source = {'kind': report.get('server') if report.get('server') in SERVERS else 'dhcp', 'host': server}
    observations, skipped = [], []
    for index, event in enumerate(report.get('events') or []):
        try:
            kind = event.get('kind')
            if kind not in PRESENCE_KINDS and kind not in ENDING_KINDS:
                raise InvalidObservation('unknown event kind %r' % (kind,))
            observations.append(_lease_observation(event, kind, normalize_time(event['time']), (0, index), source))
        except _UNUSABLE as exc:
            skipped.append({'server': server, 'entry': 'event', 'id': _safe_id(event), 'reason': str(exc)[:200]})
    for index, lease in enumerate(report.get('leases') or []):
        try:
            observations.append(_table_observation(lease, read_at, (1, index), source))
        except _UNUSABLE as exc:
            skipped.append({'server': server, 'entry': 'lease', 'ip': _safe_id(lease, 'ip'), 'reason': str(exc)[:200]})
    return observations, skipped


def _table_observation(lease, read_at, order, source):
    state = lease.get('state')
    if state not in LEASE_STATES:
        raise InvalidObservation('unknown lease state %r' % (state,))
    observation = _lease_observation(lease, 'table', read_at, order, source)
    observation['state'] = state
    return observation


def _presence_observations(report, server, read_at):
    """Spool observations and table rows of a presence_events (or wireguard_peers) result."""
    observations, skipped = [], []
    for part, items in enumerate((report.get('observations') or [], report.get('table') or [])):
        for index, item in enumerate(items):
            try:
                observations.append(_presence_observation(item, server, read_at, (part, index), table=part == 1))
            except _UNUSABLE as exc:
                skipped.append({'server': server, 'entry': 'table' if part else 'event', 'id': _safe_id(item),
                                'ip': _safe_id(item, 'ip'), 'reason': str(exc)[:200]})
    return observations, skipped


def _presence_observation(item, server, read_at, order, table):
    identity = item['identity']
    key = identity_key(identity['kind'], identity['value'])
    source = _source_of(item, server)
    authority = item.get('authority') if item.get('authority') in AUTHORITIES else authority_of(source['kind'])
    why, event = item.get('why'), item.get('event')
    if identity['kind'] == 'mac':
        if table:
            row = {'mac': key, 'ip': item.get('ip'), 'hostname': item.get('hostname'), 'expires': item.get('until'),
                   'state': why}
            observation = _table_observation(row, read_at, order, source)
        else:
            kind = why if why in PRESENCE_KINDS + ENDING_KINDS else _EVENT_KINDS.get(event)
            if kind is None:
                raise InvalidObservation('unknown event %r' % (event,))
            row = {'mac': key, 'ip': item.get('ip'), 'hostname': item.get('hostname'), 'lease_expires': item.get('until')}
            observation = _lease_observation(row, kind, normalize_time(item['time']), order, source)
    else:
        if event not in _SESSION_KINDS:
            raise InvalidObservation('unknown event %r' % (event,))
        until = item.get('until')
        observation = {
            'time': normalize_time(item.get('time') or read_at), 'order': order,
            'kind': 'table' if table else _SESSION_KINDS[event], 'key': key, 'mac': None,
            'ip': normalize_ip(item['ip']), 'hostname': None, 'expires': normalize_time(until) if until else None,
            'source': source}
        if table:
            # a session table lists live sessions only
            observation['state'] = 'active' if event != 'end' else 'expired'
    observation['authority'] = authority
    return observation


def _source_of(item, server):
    """The ``{kind, host}`` a holding taken from this observation records: the kind the source gave, the host that
    reported it."""
    given = item.get('source') if isinstance(item.get('source'), dict) else {}
    source_kind = given.get('kind') if isinstance(given.get('kind'), str) else 'unknown'
    return {'kind': source_kind[:32], 'host': server}


def _server_of(report, fallback_server=None):
    return report.get('server_name') or fallback_server or report.get('server') or 'unknown'


def identity_observations(reports):
    """The observations of ``presence_events`` results that name other identities than a MAC (VPN, domain
    controller), as the sources gave them: they prove links (_devices.authenticated_links)."""
    return [item for report in reports if isinstance(report, dict)
            for item in (report.get('observations') or []) + (report.get('table') or [])
            if isinstance(item, dict) and isinstance(item.get('identity'), dict) and item['identity'].get('kind') != 'mac']


def _safe_id(entry, key='id'):
    value = entry.get(key) if isinstance(entry, dict) else None
    return value[:80] if isinstance(value, str) else None


def _lease_observation(entry, kind, moment, order, source):
    expires = entry.get('lease_expires') if kind != 'table' else entry.get('expires')
    hostname = entry.get('hostname')
    if entry.get('mac') is None and kind == 'table' and entry.get('state') != 'active':
        mac = None  # Kea keeps a declined address without a MAC: it still ends whoever held the IP
    else:
        mac = normalize_mac(entry['mac'])
    return {
        'time': moment, 'order': order, 'kind': kind, 'key': mac,
        'mac': mac, 'ip': normalize_ip(entry['ip']),
        'hostname': hostname if isinstance(hostname, str) and hostname else None,
        'expires': normalize_time(expires) if expires else None,
        'source': source, 'authority': 'table',
    }


def lease_holders(reports):
    """``{ip: {identity key, ...}}`` of the holdings active in the given live tables at their read time.

    The tables are one view (both peers of a DHCP HA pair hold every lease, and either may be down): an IP any table
    shows active is held. One table may name one holding by several keys (OpenVPN: certificate and user name), but an
    IP two tables give to different identities is held by nobody.
    """
    holders, contested = {}, set()
    for report in reports:
        observations, dummy = observations_from_report(report)
        found = {}
        for observation in observations:
            if observation['kind'] == 'table' and observation['key'] and _table_row_active(observation):
                found.setdefault(observation['ip'], set()).add(observation['key'])
        contested.update(ip for ip, keys in found.items() if holders.setdefault(ip, keys) != keys)
    return {ip: keys for ip, keys in holders.items() if ip not in contested}


def _table_row_active(observation):
    return observation['state'] == 'active' and (observation['expires'] is None or observation['expires'] > observation['time'])


class _Folder:
    """Applies observations in time order; keeps an index of open holdings by IP."""

    def __init__(self, records):
        self.records = records
        self.changed = set()
        self.holder_of = {}
        for key, record in records.items():
            if record.get('lease_state') == 'active' and record.get('ip'):
                self.holder_of.setdefault(record['ip'], set()).add(key)

    def apply(self, observation):
        record = self.records.get(observation['key'])
        if record is not None and observation['time'] < _watermark(record):
            return  # redelivered or out-of-order: the record already knows something newer
        if observation['kind'] in PRESENCE_KINDS + (CONNECT,) or (observation['kind'] == 'table' and _table_row_active(observation)):
            self._present(observation)
        else:
            self._ended(observation)

    def _present(self, obs):
        key, ip, moment = obs['key'], obs['ip'], obs['time']
        record = self.records.get(key)
        if record is None:
            record = self.records[key] = new_record(key, moment)
        if (obs['kind'] == 'table' and obs['mac'] is not None and record['lease_state'] == REASSIGNED and record['ip'] == ip
                and obs['expires'] is not None and record['lease_expires'] == obs['expires']):
            return  # the table still lists the very lease another MAC's sighting ended (_neighbors.py): nothing new
        holding = record['lease_state'] == 'active'
        lapsed = (holding and obs['kind'] in PRESENCE_KINDS + (CONNECT,) and record['lease_expires'] is not None
                  and moment > record['lease_expires'])
        if holding and record['ip'] == ip and lapsed:
            # A new lease after the old one ran out: not one continuous holding.
            self._close(record, record['lease_expires'], 'expired')
            holding = False
        elif holding and (record['ip'] != ip or (obs['kind'] == CONNECT and moment > record['held_since'])):
            # another IP, or a new session while the last one's end was never seen: it ended at its last sighting
            self._close(record, record['last_seen'], 'released')
            holding = False
        if not holding:
            self._take_over(obs)
            record['ip'] = ip
            record['held_since'] = moment
            record['lease_state'] = 'active'
            self.holder_of.setdefault(ip, set()).add(key)
        record['last_seen'] = max(record['last_seen'] or moment, moment)
        if obs['expires'] is not None:
            record['lease_expires'] = obs['expires']
        if obs['hostname'] is not None:
            record['hostname'] = obs['hostname']
        record['source'] = obs['source']
        record['authority'] = obs['authority']
        if obs['source']['kind'] in SERVERS + ('dhcp',):
            record['dhcp_server'] = obs['source']['host']
        self.changed.add(key)

    def _ended(self, obs):
        key, ip, moment = obs['key'], obs['ip'], obs['time']
        record = self.records.get(key)
        for holder in sorted(self.holder_of.get(ip, ())):
            if holder == key or keeps_holder(key, holder):
                continue
            # A newer holding of this IP by someone else ended: the holder we remember lost it before.
            other = self.records[holder]
            if _row_time(obs) >= other['held_since']:
                self._close(other, other['last_seen'], REASSIGNED)
        if record is None or record['lease_state'] != 'active' or record['ip'] != ip:
            return
        kind = obs['kind'] if obs['kind'] != 'table' else obs['state']
        if kind in ('release', 'decline'):
            end = moment
            record['last_seen'] = max(record['last_seen'], moment)
        elif kind in ('expire', 'expired', 'active'):
            # the lease ran out at its expiry time; never before the last sighting
            end = max(record['last_seen'], min(obs['expires'] or moment, moment))
        else:
            end = record['last_seen']  # released/declined/free in a table: the moment is unknown
        state = {'release': 'released', 'expire': 'expired', 'decline': 'declined', 'active': 'expired'}.get(kind, kind)
        self._close(record, end, state)

    def _take_over(self, obs):
        ip, key, moment = obs['ip'], obs['key'], obs['time']
        for holder in sorted(self.holder_of.get(ip, ())):
            other = self.records[holder]
            # one session the source names twice in one read (OpenVPN: certificate and user name) is no reuse
            same_session = other['source'] == obs['source'] and other['last_seen'] == moment
            if holder != key and not keeps_holder(key, holder) and not same_session:
                self._close(other, min(other['last_seen'], moment), REASSIGNED)

    def _close(self, record, end, state):
        history = record['ip_history']
        history.append({'ip': record['ip'], 'from': record['held_since'], 'to': max(end, record['held_since'])})
        del history[:-IP_HISTORY_LIMIT]
        record['lease_state'] = state
        key = record_key(record)
        self.holder_of.get(record['ip'], set()).discard(key)
        self.changed.add(key)


def _row_time(obs):
    if obs['kind'] == 'table' and obs['state'] in ('expired', 'active') and obs['expires']:
        return min(obs['expires'], obs['time'])
    return obs['time']


def _watermark(record):
    marks = [record.get('last_seen') or '']
    if record.get('ip_history'):
        marks.append(record['ip_history'][-1]['to'])
    return max(marks)


def observations(reports):
    """Every usable observation of ``reports`` in fold order (time, then the report's place in ``reports``, then the
    observation's in its report), and the entries skipped."""
    found, skipped = [], []
    for position, report in enumerate(reports):
        items, bad = observations_from_report(report, fallback_server='server%d' % position)
        found.extend((item['time'], position, item['order'], item) for item in items)
        skipped.extend(bad)
    found.sort(key=lambda entry: entry[:3])
    return _freshest_table_rows([entry[3] for entry in found]), skipped


def _freshest_table_rows(found):
    """Of the rows several live tables give for one IP, only the last extended ones (the latest expiry; none is
    infinite): both peers of a DHCP HA pair hold every lease, so a dead or lagging peer's older copy of a lease the
    other peer renewed neither ends nor reopens a holding."""
    newest = {}
    for item in found:
        if item['kind'] == 'table':
            newest[item['ip']] = max(newest.get(item['ip'], ''), item['expires'] or _INFINITE)
    return [item for item in found if item['kind'] != 'table' or (item['expires'] or _INFINITE) == newest[item['ip']]]


_INFINITE = '~'   # sorts after every time of the one time format


def identities_observed(reports):
    """The identity keys ``reports`` speak of, and the IPs whose holders they may end (to load just those records)."""
    found, dummy = observations(reports)
    return {item['key'] for item in found if item['key']}, {item['ip'] for item in found}


def fold(records, reports):
    """Fold ``presence_events`` (or ``lease_events``) results into ``records`` (``{identity key: record}``, changed
    in place).

    Returns ``(changed_keys, skipped)``. Safe to repeat with the same events (at-least-once
    delivery): an observation older than what a record already knows is ignored.
    """
    found, skipped = observations(reports)
    folder = _Folder(records)
    for observation in found:
        folder.apply(observation)
    return folder.changed, skipped


def _ends_without_ip(report):
    """``[(index, identity key)]`` of a log source's ``end`` observations that name no IP (ASA 113019, GlobalProtect
    logout: the concentrator logs who left, not which tunnel IP)."""
    found = []
    for index, item in enumerate(report.get('observations') or []):
        identity = item.get('identity') if isinstance(item, dict) else None
        if isinstance(identity, dict) and item.get('event') == 'end' and not item.get('ip'):
            try:
                found.append((index, identity_key(identity.get('kind'), identity.get('value'))))
            except InvalidIdentity:
                continue
    return found


def session_end_keys(reports):
    """The identity keys whose records ``with_session_ends`` needs loaded."""
    return {key for report in reports for dummy, key in _ends_without_ip(report)}


def with_session_ends(report, records):
    """``report`` with each IP-less ``end`` given the IP its identity last held from the same source (kind and reporting
    host): the one an earlier observation of this read gave it, else its open holding in ``records`` when that source
    took or last refreshed it. An end of an identity that holds nothing from that source (nothing, or a holding another
    source such as a VPN server's live table keeps) ends nothing and is left out."""
    ends = dict(_ends_without_ip(report))
    if not ends:
        return report
    server = _server_of(report)
    held = {(key, record['source']['kind']): record['ip'] for key, record in records.items()
            if record.get('lease_state') == 'active' and record.get('ip') and isinstance(record.get('source'), dict)
            and record['source'].get('host') == server}
    observations = []
    for index, item in enumerate(report.get('observations') or []):
        if index in ends:
            holding = (ends[index], _source_of(item, server)['kind'])
            if holding not in held:
                continue
            item = dict(item, ip=held.pop(holding))
        elif isinstance(item, dict) and isinstance(item.get('identity'), dict) and item.get('ip') and item.get('event') != 'end':
            try:
                held[(identity_key(item['identity'].get('kind'), item['identity'].get('value')),
                      _source_of(item, server)['kind'])] = item['ip']
            except InvalidIdentity:
                pass
        observations.append(item)
    return dict(report, observations=observations)


def dc_presence_report(report, records, minutes):
    """A ``logon_events`` result reduced to what DC-only presence (``roamscan_dc_presence``) folds: the machine-account
    logons at an IP that no other identity of ``records`` held at that moment, each holding it for ``minutes`` after
    the logon, ``authority: log``. A logon at an IP a lease or tunnel holds only links (_devices.authenticated_links)."""
    kept = []
    for item in report.get('observations') or []:
        identity = item.get('identity') if isinstance(item, dict) else None
        if not isinstance(identity, dict) or identity.get('kind') != 'ad_machine' or item.get('event') not in ('start', 'seen'):
            continue
        try:
            ip, moment = normalize_ip(item.get('ip') or ''), normalize_time(item.get('time') or '')
        except (InvalidAddress, ValueError):
            continue
        if any(held_at(record, ip, moment) for key, record in records.items() if kind_of(key) not in COHOLDER_KINDS):
            continue
        kept.append(dict(item, ip=ip, time=moment, until=shift(moment, minutes=minutes), authority='log'))
    return {'now': report.get('now'), 'observations': kept}


def named_reports(reports):
    """``[(host, presence_events result)]`` (a host may report several sources) as fold's list, each result knowing
    the inventory host that reported it (a PresenceResult of that host as it is, parsed or not)."""
    return [report if isinstance(report, PresenceResult) and report['server_name'] == host else PresenceResult(host, report)
            for host, report in sorted(reports, key=lambda item: item[0])]


def corrupt_spool_lines(reports):
    """``{host: skipped_lines}`` of the ``[(host, presence_events result)]`` that skipped corrupt spool lines."""
    found = {}
    for host, report in reports:
        lines = report.get('skipped_lines') if isinstance(report, dict) else None
        if isinstance(lines, dict) and lines.get('count'):
            total = found.setdefault(host, {'count': 0, 'reasons': {}})
            total['count'] += lines['count']
            for reason, count in (lines.get('reasons') or {}).items():
                total['reasons'][reason] = total['reasons'].get(reason, 0) + count
    return found


def live_tables(reports):
    """``[{host, source, table_path}]``: the live table of each source that reported (``[(host, result)]``), which
    the verify stage re-reads right before the launch; log-only sources have none."""
    found = []
    for host, report in sorted(reports, key=lambda item: item[0]):
        source = report.get('source') if isinstance(report, dict) else None
        if source in TABLE_SOURCES:
            entry = {'host': host, 'source': source, 'table_path': report.get('table_path')}
            if entry not in found:
                found.append(entry)
    return found
