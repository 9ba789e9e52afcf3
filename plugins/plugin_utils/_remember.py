# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage remember: presence_events (or lease_events) results turned into observations and folded into MAC records.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._lease_row import LEASE_STATES
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import ENDING_KINDS, PRESENCE_KINDS
from ansible_collections.roamscan.qualys.plugins.module_utils._time import normalize_time
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import IP_HISTORY_LIMIT, REASSIGNED, new_record


class InvalidObservation(ValueError):
    """An event or lease-table row that cannot be used."""


def observations_from_report(report, fallback_server=None):
    """Events and lease-table rows of one ``lease_events`` or ``presence_events`` result, and the entries skipped.

    Returns ``(observations, skipped)``. An observation is a dict
    ``{time, order, kind, mac, ip, hostname, expires, server}``; lease-table rows become kind
    ``table`` (with ``state``) at the server's ``now``, after all events of that read. Of a
    ``presence_events`` result only MAC identities are folded here (see identity_observations).
    """
    if 'observations' in report or 'table' in report:
        report = _as_lease_events(report)
    server = report.get('server_name') or fallback_server or report.get('server') or 'unknown'
    observations, skipped = [], []
    try:
        read_at = normalize_time(report['now'])
    except (KeyError, ValueError) as exc:
        return [], [{'server': server, 'entry': 'report', 'reason': 'no usable "now" in lease_events result: %s' % exc}]

    for index, event in enumerate(report.get('events') or []):
        try:
            kind = event.get('kind')
            if kind not in PRESENCE_KINDS and kind not in ENDING_KINDS:
                raise InvalidObservation('unknown event kind %r' % (kind,))
            observations.append(_observation(event, kind, normalize_time(event['time']), (0, index), server))
        except (InvalidObservation, InvalidAddress, ValueError, KeyError, AttributeError, TypeError) as exc:
            skipped.append({'server': server, 'entry': 'event', 'id': _safe_id(event), 'reason': str(exc)[:200]})

    for index, lease in enumerate(report.get('leases') or []):
        try:
            state = lease.get('state')
            if state not in LEASE_STATES:
                raise InvalidObservation('unknown lease state %r' % (state,))
            observation = _observation(lease, 'table', read_at, (1, index), server)
            observation['state'] = state
            observations.append(observation)
        except (InvalidObservation, InvalidAddress, ValueError, KeyError, AttributeError, TypeError) as exc:
            skipped.append({'server': server, 'entry': 'lease', 'ip': _safe_id(lease, 'ip'), 'reason': str(exc)[:200]})
    return observations, skipped


_EVENT_KINDS = {'start': 'lease', 'seen': 'renew', 'end': 'expire'}


def _is_mac_observation(item):
    return isinstance(item, dict) and isinstance(item.get('identity'), dict) and item['identity'].get('kind') == 'mac'


def _as_lease_events(report):
    """A presence_events result in lease_events' shape (events and lease rows of MAC identities)."""
    events = []
    for item in report.get('observations') or []:
        if not _is_mac_observation(item):
            continue
        why = item.get('why')
        events.append({'id': item.get('id'), 'kind': why if why in PRESENCE_KINDS + ENDING_KINDS else _EVENT_KINDS.get(item.get('event')),
                       'time': item.get('time'), 'mac': item['identity'].get('value'), 'ip': item.get('ip'),
                       'hostname': item.get('hostname'), 'lease_expires': item.get('until')})
    leases = [{'mac': item['identity'].get('value'), 'ip': item.get('ip'), 'hostname': item.get('hostname'),
               'expires': item.get('until'), 'state': item.get('why')}
              for item in report.get('table') or [] if _is_mac_observation(item)]
    return dict(report, events=events, leases=leases)


def identity_observations(reports):
    """The observations of ``presence_events`` results that name other identities than a MAC (VPN, domain
    controller): they prove links (_devices.authenticated_links), they hold no MAC record."""
    return [item for report in reports if isinstance(report, dict)
            for item in (report.get('observations') or []) + (report.get('table') or [])
            if isinstance(item, dict) and isinstance(item.get('identity'), dict) and not _is_mac_observation(item)]


def _safe_id(entry, key='id'):
    value = entry.get(key) if isinstance(entry, dict) else None
    return value[:80] if isinstance(value, str) else None


def _observation(entry, kind, moment, order, server):
    expires = entry.get('lease_expires') if kind != 'table' else entry.get('expires')
    hostname = entry.get('hostname')
    if entry.get('mac') is None and kind == 'table' and entry.get('state') != 'active':
        mac = None  # Kea keeps a declined address without a MAC: it still ends whoever held the IP
    else:
        mac = normalize_mac(entry['mac'])
    return {
        'time': moment, 'order': order, 'kind': kind,
        'mac': mac, 'ip': normalize_ip(entry['ip']),
        'hostname': hostname if isinstance(hostname, str) and hostname else None,
        'expires': normalize_time(expires) if expires else None,
        'server': server,
    }


def lease_holders(reports):
    """``{ip: mac}`` of leases that are active in the given lease tables at their read time.

    The servers' tables are one view (both peers of a DHCP HA pair hold every lease, and either may be down): an IP
    any table shows active is held, and one that two tables show active for different MACs is held by nobody.
    """
    holders, contested = {}, set()
    for report in reports:
        observations, dummy = observations_from_report(report)
        found = {item['ip']: item['mac'] for item in observations if item['kind'] == 'table' and _table_row_active(item)}
        contested.update(ip for ip, mac in found.items() if holders.setdefault(ip, mac) != mac)
    return {ip: mac for ip, mac in holders.items() if ip not in contested}


def _table_row_active(observation):
    return observation['state'] == 'active' and (observation['expires'] is None or observation['expires'] > observation['time'])


class _Folder:
    """Applies observations in time order; keeps an index of open holdings by IP."""

    def __init__(self, records):
        self.records = records
        self.changed = set()
        self.holder_of = {}
        for mac, record in records.items():
            if record.get('lease_state') == 'active' and record.get('ip'):
                self.holder_of[record['ip']] = mac

    def apply(self, observation):
        mac = observation['mac']
        record = self.records.get(mac)
        if record is not None and observation['time'] < _watermark(record):
            return  # redelivered or out-of-order: the record already knows something newer
        if observation['kind'] in PRESENCE_KINDS or (observation['kind'] == 'table' and _table_row_active(observation)):
            self._present(observation)
        else:
            self._ended(observation)

    def _present(self, obs):
        mac, ip, moment = obs['mac'], obs['ip'], obs['time']
        record = self.records.get(mac)
        if record is None:
            record = self.records[mac] = new_record(mac, moment)
        holding = record['lease_state'] == 'active'
        lapsed = (holding and obs['kind'] in PRESENCE_KINDS and record['lease_expires'] is not None
                  and moment > record['lease_expires'])
        if holding and record['ip'] == ip and lapsed:
            # A new lease after the old one ran out: not one continuous holding.
            self._close(record, record['lease_expires'], 'expired')
            holding = False
        elif holding and record['ip'] != ip:
            self._close(record, record['last_seen'], 'released')
            holding = False
        if not holding:
            self._take_over(ip, mac, moment)
            record['ip'] = ip
            record['held_since'] = moment
            record['lease_state'] = 'active'
            self.holder_of[ip] = mac
        record['last_seen'] = max(record['last_seen'] or moment, moment)
        if obs['expires'] is not None:
            record['lease_expires'] = obs['expires']
        if obs['hostname'] is not None:
            record['hostname'] = obs['hostname']
        record['dhcp_server'] = obs['server']
        self.changed.add(mac)

    def _ended(self, obs):
        mac, ip, moment = obs['mac'], obs['ip'], obs['time']
        record = self.records.get(mac)
        holder = self.holder_of.get(ip)
        if holder is not None and holder != mac:
            # A newer lease of this IP by someone else ended: the holder we remember lost it before.
            other = self.records[holder]
            if _row_time(obs) >= other['held_since']:
                self._close(other, other['last_seen'], REASSIGNED)
            return
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

    def _take_over(self, ip, mac, moment):
        holder = self.holder_of.get(ip)
        if holder is not None and holder != mac:
            other = self.records[holder]
            self._close(other, min(other['last_seen'], moment), REASSIGNED)

    def _close(self, record, end, state):
        history = record['ip_history']
        history.append({'ip': record['ip'], 'from': record['held_since'], 'to': max(end, record['held_since'])})
        del history[:-IP_HISTORY_LIMIT]
        record['lease_state'] = state
        if self.holder_of.get(record['ip']) == record['mac']:
            del self.holder_of[record['ip']]
        self.changed.add(record['mac'])


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
    """Every usable observation of ``reports`` in fold order, and the entries skipped."""
    found, skipped = [], []
    for position, report in enumerate(reports):
        items, bad = observations_from_report(report, fallback_server='server%d' % position)
        for observation in items:
            observation['order'] = (position,) + observation['order']
        found.extend(items)
        skipped.extend(bad)
    found = _freshest_table_rows(found)
    found.sort(key=lambda item: (item['time'], item['order']))
    return found, skipped


def _freshest_table_rows(found):
    """Of the rows several lease tables give for one IP, only the last extended one (the latest expiry; none is
    infinite): both peers of a DHCP HA pair hold every lease, so a dead or lagging peer's older copy of a lease the
    other peer renewed neither ends nor reopens a holding."""
    newest = {}
    for item in found:
        if item['kind'] == 'table':
            newest[item['ip']] = max(newest.get(item['ip'], ''), item['expires'] or _INFINITE)
    return [item for item in found if item['kind'] != 'table' or (item['expires'] or _INFINITE) == newest[item['ip']]]


_INFINITE = '~'   # sorts after every time of the one time format


def macs_observed(reports):
    """The MACs ``reports`` speak of, and the IPs whose holders they may end (to load just those records)."""
    found, dummy = observations(reports)
    return {item['mac'] for item in found if item['mac']}, {item['ip'] for item in found}


def fold(records, reports):
    """Fold ``lease_events`` results into ``records`` (``{mac: record}``, changed in place).

    Returns ``(changed_macs, skipped)``. Safe to repeat with the same events (at-least-once
    delivery): an observation older than what a record already knows is ignored.
    """
    found, skipped = observations(reports)
    folder = _Folder(records)
    for observation in found:
        folder.apply(observation)
    return folder.changed, skipped


def named_reports(reports):
    """``{server name: lease_events result}`` as fold's list, each result knowing its server."""
    named = []
    for name in sorted(reports):
        report = reports[name]
        named.append(dict(report, server_name=name) if isinstance(report, dict) else {'server_name': name})
    return named


def corrupt_spool_lines(reports):
    """``{server: skipped_lines}`` of the lease_events results that skipped corrupt spool lines."""
    found = {}
    for name, report in reports.items():
        lines = report.get('skipped_lines') if isinstance(report, dict) else None
        if isinstance(lines, dict) and lines.get('count'):
            found[name] = {'count': lines['count'], 'reasons': dict(lines.get('reasons') or {})}
    return found
