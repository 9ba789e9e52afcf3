# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan cycle's decisions as pure functions over laptop records.

A laptop record (contract 3, stored under the fact key ``roamscan`` of host ``mac-...``)::

    {schema: 1, mac, ip, hostname, first_seen, last_seen, lease_state, lease_expires, held_since,
     dhcp_server, ip_history: [{ip, from, to}], last_scanned, last_scan_ref,
     pending: {scan_ref, ip, launched_at, title} | null}

The *holding* of a record is the MAC's current lease of ``ip``: it is open while ``lease_state``
is ``active`` and started at ``held_since``. Closed holdings move to ``ip_history`` (newest last,
bounded). When a holding ends without an exact time (a lost release, the IP seen with another MAC),
it is closed at ``last_seen``, the last moment there was evidence of it: crediting a scan then
needs proof, never a guess.

``pending.scan_ref`` is null between recording a launch intent and recording the launched scan;
``pending.title`` is the deterministic title of that cycle's launch, so a run killed in between is
resumed with the same title, and the launch module's ``resume`` (that title and the intent's
``launched_at``) returns the scan that already exists, whatever its state, instead of starting a second one.

Every time is an ISO-8601 UTC string with second precision and ``Z``; they compare as strings.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._time import (
    normalize_time,
    parse_time,
    shift,
)

SCHEMA = 1
IP_HISTORY_LIMIT = 16
PRESENCE_KINDS = frozenset(('lease', 'renew'))
ENDING_KINDS = frozenset(('release', 'expire', 'decline'))
LEASE_TABLE_STATES = frozenset(('active', 'released', 'expired', 'declined', 'free'))
# lease_state of a record whose IP was seen leased to another MAC.
REASSIGNED = 'reassigned'


class InvalidRecord(ValueError):
    """A stored laptop record that does not follow the record schema."""


class InvalidObservation(ValueError):
    """An event or lease-table row that cannot be used."""


def new_record(mac, seen_at):
    return {
        'schema': SCHEMA, 'mac': mac, 'ip': None, 'hostname': None, 'first_seen': seen_at,
        'last_seen': None, 'lease_state': None, 'lease_expires': None, 'held_since': None,
        'dhcp_server': None, 'ip_history': [], 'last_scanned': None, 'last_scan_ref': None,
        'pending': None,
    }


_RECORD_TIMES = ('first_seen', 'last_seen', 'lease_expires', 'held_since', 'last_scanned')


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
        pending = record.get('pending')
        if pending is not None:
            if not isinstance(pending, dict):
                raise InvalidRecord('pending is not a mapping')
            normalize_ip(pending['ip'])
            parse_time(pending['launched_at'])
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, InvalidRecord):
            raise
        raise InvalidRecord('malformed field: %s' % exc) from None
    if record.get('lease_state') == 'active' and None in (record.get('ip'), record.get('held_since'), record.get('last_seen')):
        raise InvalidRecord('active lease without ip, held_since or last_seen')
    return record


# ---------------------------------------------------------------------------------------------
# Observations: lease_events results turned into one time-ordered stream

def observations_from_report(report, fallback_server=None):
    """Events and lease-table rows of one ``lease_events`` result, and the entries skipped.

    Returns ``(observations, skipped)``. An observation is a dict
    ``{time, order, kind, mac, ip, hostname, expires, server}``; lease-table rows become kind
    ``table`` (with ``state``) at the server's ``now``, after all events of that read.
    """
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
            if state not in LEASE_TABLE_STATES:
                raise InvalidObservation('unknown lease state %r' % (state,))
            observation = _observation(lease, 'table', read_at, (1, index), server)
            observation['state'] = state
            observations.append(observation)
        except (InvalidObservation, InvalidAddress, ValueError, KeyError, AttributeError, TypeError) as exc:
            skipped.append({'server': server, 'entry': 'lease', 'ip': _safe_id(lease, 'ip'), 'reason': str(exc)[:200]})
    return observations, skipped


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
    """``{ip: mac}`` of leases that are active in the given lease tables at their read time."""
    holders = {}
    for report in reports:
        observations, dummy = observations_from_report(report)
        for observation in observations:
            if observation['kind'] == 'table' and _table_row_active(observation):
                holders[observation['ip']] = observation['mac']
    return holders


def _table_row_active(observation):
    return observation['state'] == 'active' and (observation['expires'] is None or observation['expires'] > observation['time'])


# ---------------------------------------------------------------------------------------------
# Fold: observations into records

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


def fold(records, reports):
    """Fold ``lease_events`` results into ``records`` (``{mac: record}``, changed in place).

    Returns ``(changed_macs, skipped)``. Safe to repeat with the same events (at-least-once
    delivery): an observation older than what a record already knows is ignored.
    """
    observations, skipped = [], []
    for position, report in enumerate(reports):
        found, bad = observations_from_report(report, fallback_server='server%d' % position)
        for observation in found:
            observation['order'] = (position,) + observation['order']
        observations.extend(found)
        skipped.extend(bad)
    observations.sort(key=lambda item: (item['time'], item['order']))
    folder = _Folder(records)
    for observation in observations:
        folder.apply(observation)
    return folder.changed, skipped


# ---------------------------------------------------------------------------------------------
# Questions about one record

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


def held_throughout(record, ip, start, end):
    """True when the record proves this MAC held ``ip`` for the whole of [start, end]."""
    if record.get('ip') == ip and record.get('lease_state') == 'active' and record['held_since'] <= start:
        evidence = max(record.get('last_seen') or '', record.get('lease_expires') or '')
        if evidence >= end:
            return True
    for entry in record.get('ip_history') or []:
        if entry['ip'] == ip and entry['from'] <= start and entry['to'] >= end:
            return True
    return False


def held_at(record, ip, moment):
    """True when the MAC held ``ip`` at ``moment`` (for scans found in the Qualys host list)."""
    return held_throughout(record, ip, moment, moment)


# ---------------------------------------------------------------------------------------------
# Confirm: pending scans against their status

def _ip_in_entries(ip, entries):
    address = ipaddress.IPv4Address(ip)
    for entry in entries or []:
        text = str(entry).strip()
        if '-' in text:
            first, last = text.split('-', 1)
            try:
                if ipaddress.IPv4Address(first.strip()) <= address <= ipaddress.IPv4Address(last.strip()):
                    return True
            except ValueError:
                continue
        elif text == ip:
            return True
    return False


def scan_window(scan, pending, now):
    """(start, end) the laptop must have held its IP for its scan to count.

    Start is the earlier of our recorded launch time and Qualys' own. The end is ``now``, the moment
    the scan was seen finished and processed: Qualys' DURATION may leave out the time a scan waited
    for its appliance, so launch + duration is no safe bound on when the IP was probed.
    """
    start = pending['launched_at']
    if scan.get('launched'):
        try:
            start = min(start, normalize_time(scan['launched']))
        except ValueError:
            pass
    return start, max(now, start)


def confirm(records, scans, now, abandon_after_hours):
    """Credit or release pending scans given ``qualys_scan_status`` results.

    Returns ``(changed, outcome)`` where outcome lists ``credited`` / ``not_credited`` /
    ``abandoned`` laptops (dicts with mac, ip, scan_ref, reason).
    """
    by_ref = {}
    for scan in scans or []:
        if isinstance(scan, dict) and scan.get('ref'):
            by_ref[scan['ref']] = scan
    abandon_before = shift(now, hours=-abandon_after_hours)
    changed = set()
    outcome = {'credited': [], 'not_credited': [], 'abandoned': []}
    for mac, record in records.items():
        pending = record.get('pending')
        if not pending or not pending.get('scan_ref'):
            continue
        scan = by_ref.get(pending['scan_ref'])
        verdict = _verdict(record, pending, scan, now) if scan else None
        entry = {'mac': mac, 'ip': pending['ip'], 'scan_ref': pending['scan_ref']}
        if verdict is None:
            if pending['launched_at'] < abandon_before:
                entry['reason'] = 'scan still not finished and processed after %s hours' % abandon_after_hours
                outcome['abandoned'].append(entry)
                record['pending'] = None
                changed.add(mac)
            continue
        credited, reason, scanned_at = verdict
        entry['reason'] = reason
        if credited:
            if record.get('last_scanned') is None or scanned_at > record['last_scanned']:
                record['last_scanned'] = scanned_at
                record['last_scan_ref'] = pending['scan_ref']
            outcome['credited'].append(entry)
        else:
            outcome['not_credited'].append(entry)
        record['pending'] = None
        changed.add(mac)
    return changed, outcome


def _verdict(record, pending, scan, now):
    """(credited, reason, scanned_at) once the scan is over, None while it is not."""
    state = scan.get('state')
    if not scan.get('done'):
        return None
    if state != 'Finished':
        return False, 'scan ended %s' % (state or 'without a state'), None
    if not scan.get('processed'):
        return None  # results not yet processed into host data: wait
    ip = pending['ip']
    if not _ip_in_entries(ip, scan.get('scanned')):
        reasons = [item.get('reason') for item in scan.get('not_scanned') or []
                   if isinstance(item, dict) and _ip_in_entries(ip, [item.get('ip')])]
        return False, 'not scanned: %s' % (reasons[0] if reasons and reasons[0] else 'host not alive'), None
    start, end = scan_window(scan, pending, now)
    if not held_throughout(record, ip, start, end):
        return False, 'IP %s not proven leased to this MAC from %s to %s' % (ip, start, end), None
    return True, 'scanned alive while holding %s' % ip, start


def merge_last_scanned(records, hosts, now):
    """Take scans of other schedules from ``host_last_scanned`` results.

    A Qualys host-list date counts only inside this laptop's own holding of that IP (and never
    from the future); returns ``(changed, merged)``.
    """
    changed, merged = set(), []
    for host in hosts or []:
        if not isinstance(host, dict) or host.get('source') != 'qualys' or not host.get('last_scanned'):
            continue
        try:
            mac = normalize_mac(host.get('mac') or '')
            ip = normalize_ip(host.get('ip') or '')
            scanned_at = normalize_time(host['last_scanned'])
        except (InvalidAddress, ValueError):
            continue
        record = records.get(mac)
        if record is None or scanned_at > now or not held_at(record, ip, scanned_at):
            continue
        if record.get('last_scanned') is None or scanned_at > record['last_scanned']:
            record['last_scanned'] = scanned_at
            record['last_scan_ref'] = None
            changed.add(mac)
            merged.append({'mac': mac, 'ip': ip, 'last_scanned': scanned_at})
    return changed, merged


# ---------------------------------------------------------------------------------------------
# Decide and act

def active_scans(records):
    """Distinct roamscan scans still pending (by ref, or by title while only intended)."""
    return sorted({(p.get('scan_ref') or p.get('title') or '') for p in (r.get('pending') for r in records.values()) if p})


def candidates(records, now, rescan_days):
    """Present, overdue, not pending: ``[{mac, ip, last_scanned, held_since, overdue_since}]``, most overdue first."""
    found = []
    for mac, record in records.items():
        if record.get('pending') or not is_present(record, now):
            continue
        due = overdue_since(record, rescan_days)
        if due is not None and due > now:
            continue
        found.append({'mac': mac, 'ip': record['ip'], 'last_scanned': record.get('last_scanned'),
                      'held_since': record['held_since'], 'overdue_since': due or ''})
    found.sort(key=lambda item: (item['overdue_since'], item['mac']))
    return found


def unresolved_intents(records):
    """``{title: [mac, ...]}`` of launches recorded as intended but never recorded as launched."""
    intents = {}
    for mac, record in records.items():
        pending = record.get('pending')
        if pending and not pending.get('scan_ref'):
            intents.setdefault(pending.get('title') or '', []).append(mac)
    return intents


def plan(records, now, rescan_days, max_hosts_per_cycle, max_active_scans, title_prefix='roamscan'):
    """What this cycle launches: ``{title, targets: [{mac, ip, overdue_since}], held, resumed, intended_at}``.

    An unresolved intent (a run stopped between recording the intent and recording the scan) is
    resumed first with its own title and the time its intent was first recorded (``intended_at``); otherwise the most overdue present laptops, capped, unless
    ``max_active_scans`` roamscan scans are still pending.
    """
    intents = unresolved_intents(records)
    if intents:
        title = sorted(intents)[0]
        targets = [{'mac': mac, 'ip': records[mac]['pending']['ip'], 'overdue_since': overdue_since(records[mac], rescan_days) or ''}
                   for mac in sorted(intents[title])]
        intended_at = min(records[mac]['pending']['launched_at'] for mac in intents[title])
        return {'title': title, 'targets': targets, 'held': None, 'resumed': True, 'intended_at': intended_at}
    running = active_scans(records)
    if len(running) >= max_active_scans:
        return {'title': None, 'targets': [], 'resumed': False, 'intended_at': None,
                'held': '%d roamscan scan(s) still pending (max_active_scans=%d): %s'
                        % (len(running), max_active_scans, ', '.join(running[:5]))}
    due = candidates(records, now, rescan_days)[:max_hosts_per_cycle]
    targets = [{'mac': item['mac'], 'ip': item['ip'], 'overdue_since': item['overdue_since']} for item in due]
    return {'title': '%s %s' % (title_prefix, now) if targets else None, 'targets': targets, 'held': None, 'resumed': False,
            'intended_at': None}


def record_intent(records, title, targets, holders, now):
    """Mark the re-verified targets pending (no scan ref yet) before the launch call.

    ``holders`` is ``{ip: mac}`` from a lease-table read made just now (:func:`lease_holders`).
    Returns ``(changed, launch, dropped)``; ``launch`` are the targets still leased to the same
    MAC. Earlier intents with this title whose laptop is no longer there are cleared.
    """
    changed, launch, dropped = set(), [], []
    for target in targets:
        mac, ip = target['mac'], target['ip']
        record = records.get(mac)
        if record is None:
            dropped.append({'mac': mac, 'ip': ip, 'reason': 'no record'})
            continue
        if holders.get(ip) != mac or not is_present(record, now) or record['ip'] != ip:
            dropped.append({'mac': mac, 'ip': ip, 'reason': 'IP %s no longer leased to this MAC' % ip})
            if record.get('pending') and not record['pending'].get('scan_ref'):
                record['pending'] = None
                changed.add(mac)
            continue
        pending = record.get('pending')
        if not (pending and pending.get('title') == title and not pending.get('scan_ref')):
            record['pending'] = {'scan_ref': None, 'ip': ip, 'launched_at': now, 'title': title}
            changed.add(mac)
        launch.append({'mac': mac, 'ip': ip})
    return changed, launch, dropped


def record_launch(records, title, scans):
    """Turn intents of ``title`` into pending scans, by the targets each returned scan carries.

    Returns ``(changed, recorded, missing)``; intents whose IP no scan carries are cleared.
    """
    changed, recorded, missing = set(), [], []
    for mac, record in records.items():
        pending = record.get('pending')
        if not pending or pending.get('scan_ref') or pending.get('title') != title:
            continue
        ref = next((scan.get('ref') for scan in scans or []
                    if scan.get('ref') and _ip_in_entries(pending['ip'], scan.get('targets'))), None)
        if ref:
            pending['scan_ref'] = ref
            recorded.append({'mac': mac, 'ip': pending['ip'], 'scan_ref': ref})
        else:
            record['pending'] = None
            missing.append({'mac': mac, 'ip': pending['ip']})
        changed.add(mac)
    return changed, recorded, missing


def summary(records, now, rescan_days):
    """Counts for reports and the one-line summary."""
    present = overdue = pending = 0
    for record in records.values():
        present += is_present(record, now)
        overdue += is_overdue(record, now, rescan_days)
        pending += bool(record.get('pending'))
    return {'known': len(records), 'present': present, 'overdue': overdue, 'pending': pending}


def coverage(records, now, window_days, rescan_days):
    """Share of laptops seen in the last ``window_days`` that were scanned within ``window_days``, and the overdue list.

    The overdue list holds every overdue laptop (seen recently or not), most recently seen first.
    """
    since = shift(now, days=-window_days)
    seen = scanned = 0
    overdue = []
    for mac, record in records.items():
        recent = (record.get('last_seen') or '') >= since
        seen += recent
        scanned += recent and (record.get('last_scanned') or '') >= since
        if is_overdue(record, now, rescan_days):
            overdue.append({'mac': mac, 'ip': record.get('ip'), 'hostname': record.get('hostname'),
                            'last_seen': record.get('last_seen'), 'last_scanned': record.get('last_scanned'),
                            'present': is_present(record, now), 'pending': bool(record.get('pending'))})
    overdue.sort(key=lambda item: (item['last_seen'] or '', item['mac']), reverse=True)
    return {'window_days': window_days, 'since': since, 'seen': seen, 'scanned': scanned,
            'share': round(scanned / seen, 4) if seen else None, 'overdue': overdue}
