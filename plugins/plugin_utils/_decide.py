# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage decide: who is due, what the Qualys host list adds, and what this cycle launches.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_hosts import host_list_scan_counts
from ansible_collections.roamscan.qualys.plugins.module_utils._time import normalize_time
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import Devices
from ansible_collections.roamscan.qualys.plugins.plugin_utils._queue import ordered, take
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import is_present, open_holding, overdue_since

# The summary lists at most this many held-back laptops (all are counted).
HELD_BACK_SHOWN = 100


def active_scans(records):
    """Distinct roamscan scans still pending (by ref, or by title while only intended)."""
    return sorted({(p.get('scan_ref') or p.get('title') or '') for p in (r.get('pending') for r in records.values()) if p})


AUTHORITY_RANK = {'log': 0, 'table': 1}


def candidates(records, now, rescan_days, devices=None):
    """Present, overdue, not pending devices in queue order (most overdue first, then the
    one that arrived first: _queue.py), one target each:
    ``[{mac, ip, last_scanned, held_since, overdue_since, device, identities}]``.

    A device's last scan is the newest credited scan of any of its identities; a pending scan of
    one holds the device; of the identities present, the most authoritative holding is scanned
    (a live table over a log), then the newest. ``devices`` (_devices.Devices) defaults to every
    record a device of its own.
    """
    devices = devices or Devices(records)
    found, done = [], set()
    for key in sorted(records):
        device = devices.of(key)
        if device['id'] in done:
            continue
        done.add(device['id'])
        members = [records[item] for item in device['identities'] if item in records]
        present = [(item, records[item]) for item in device['identities'] if item in records and is_present(records[item], now)]
        if not present or any(record.get('pending') for record in members):
            continue
        scans = [record['last_scanned'] for record in members if record.get('last_scanned')]
        seen = [record['first_seen'] for record in members if record.get('first_seen')]
        last = max(scans) if scans else None
        due = overdue_since({'last_scanned': last, 'first_seen': min(seen) if seen else None}, rescan_days)
        if due is not None and due > now:
            continue
        chosen, record = max(present, key=lambda item: (AUTHORITY_RANK.get(item[1].get('authority') or 'table', 0),
                                                        item[1]['held_since'], item[0]))
        found.append({'mac': chosen, 'ip': record['ip'], 'last_scanned': last, 'held_since': record['held_since'],
                      'overdue_since': due or '', 'device': device['id'], 'identities': device['identities']})
    return ordered(found)


def host_list_hosts(records, now, rescan_days, devices=None):
    """The candidates shaped for host_last_scanned's ``hosts`` option."""
    return [{key: item[key] for key in ('ip', 'mac', 'last_scanned', 'held_since')}
            for item in candidates(records, now, rescan_days, devices)]


def credit_host_list(records, hosts, now):
    """Take scans of other schedules from ``host_last_scanned`` results.

    A Qualys host-list date counts only by the rule of host_list_scan_counts, inside this laptop's
    open holding of that IP; returns ``(changed, merged)``.
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
        holding = open_holding(record, ip) if record is not None else None
        if holding is None or not host_list_scan_counts(scanned_at, holding[0], holding[1], now):
            continue
        if record.get('last_scanned') is None or scanned_at > record['last_scanned']:
            record['last_scanned'] = scanned_at
            record['last_scan_ref'] = None
            changed.add(mac)
            merged.append({'mac': mac, 'ip': ip, 'last_scanned': scanned_at})
    return changed, merged


def unresolved_intents(records):
    """``{title: [mac, ...]}`` of launches recorded as intended but never recorded as launched."""
    intents = {}
    for mac, record in records.items():
        pending = record.get('pending')
        if pending and not pending.get('scan_ref'):
            intents.setdefault(pending.get('title') or '', []).append(mac)
    return intents


def plan(records, now, rescan_days, max_hosts_per_cycle, max_active_scans, title_prefix='roamscan', devices=None):
    """What this cycle launches: ``{title, targets: [{mac, ip, overdue_since}], held, held_back,
    held_back_count, resumed, intended_at}``.

    Unresolved intents (a run stopped between recording an intent and recording its scan) are
    resumed first, every one of them (one per route group), each target with its intent's
    ``title``, and the time the first intent was recorded (``intended_at``, what the launch
    module's ``resume.since`` needs to find those scans in any state); otherwise the first present,
    due devices of the queue (one IP each), capped, unless ``max_active_scans`` roamscan scans are
    still pending. ``held_back`` lists (up to HELD_BACK_SHOWN of) the due devices that wait, each
    with its place in the queue and why.
    """
    intents = unresolved_intents(records)
    if intents:
        targets = [{'mac': mac, 'ip': records[mac]['pending']['ip'], 'title': title,
                    'overdue_since': overdue_since(records[mac], rescan_days) or ''}
                   for title in sorted(intents) for mac in sorted(intents[title])]
        intended_at = min(records[item['mac']]['pending']['launched_at'] for item in targets)
        return _plan(sorted(intents)[0], targets, None, [], resumed=True, intended_at=intended_at)
    due = candidates(records, now, rescan_days, devices)
    running = active_scans(records)
    if len(running) >= max_active_scans:
        held = '%d roamscan scan(s) still pending (max_active_scans=%d): %s' % (len(running), max_active_scans, ', '.join(running[:5]))
        dummy, waiting = take(due, 0, 'roamscan scans still pending (max_active_scans=%d)' % max_active_scans)
        return _plan(None, [], held, waiting)
    chosen, waiting = take(due, max_hosts_per_cycle, 'this cycle is full (max_hosts_per_cycle=%d)' % max_hosts_per_cycle)
    targets = [{'mac': item['mac'], 'ip': item['ip'], 'overdue_since': item['overdue_since']} for item in chosen]
    return _plan('%s %s' % (title_prefix, now) if targets else None, targets, None, waiting)


def _plan(title, targets, held, waiting, resumed=False, intended_at=None):
    return {'title': title, 'targets': targets, 'held': held, 'held_back': waiting[:HELD_BACK_SHOWN],
            'held_back_count': len(waiting), 'resumed': resumed, 'intended_at': intended_at}
