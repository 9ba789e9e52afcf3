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
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import Devices, scan_state, scanned_holding
from ansible_collections.roamscan.qualys.plugins.plugin_utils._identity import kind_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._queue import ordered, take
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import authority, is_present, open_holding, overdue_since

# The summary lists at most this many held-back laptops (all are counted).
HELD_BACK_SHOWN = 100


def active_scans(records):
    """Distinct roamscan scans still pending (by ref, or by title while only intended)."""
    return sorted({(p.get('scan_ref') or p.get('title') or '') for p in (r.get('pending') for r in records.values()) if p})


def target_of(key, ip, **more):
    """A launch target: the identity key whose holding of ``ip`` it scans, its MAC (None for other kinds), and
    ``more``."""
    return dict({'identity': key, 'mac': key if kind_of(key) == 'mac' else None, 'ip': ip}, **more)


def candidates(records, now, rescan_days, devices=None, credit_log=False):
    """Present, overdue, not pending devices in queue order (most overdue first, then the
    one that arrived first: _queue.py), one target each:
    ``[{identity, mac, ip, last_scanned, held_since, overdue_since, device, identities}]``.

    A device's last scan is the newest credited scan of any of its identities; a pending scan of
    one holds the device; of the identities present, the most authoritative holding is scanned
    (a live table over a log), then the newest. A holding known only from a log counts as presence
    only with ``credit_log`` (roamscan_credit_log_presence). ``devices`` (_devices.Devices) defaults
    to every record a device of its own.
    """
    devices = devices or Devices(records)
    found, done = [], set()
    for key in sorted(records):
        device = devices.of(key)
        if device['id'] in done:
            continue
        done.add(device['id'])
        members = [records[item] for item in device['identities'] if item in records]
        present = [(item, records[item]) for item in device['identities'] if item in records and is_present(records[item], now)
                   and (credit_log or authority(records[item]) == 'table')]
        if not present or any(record.get('pending') for record in members):
            continue
        last, dummy, due = scan_state(members, rescan_days)
        if due is not None and due > now:
            continue
        chosen, record = scanned_holding(present)
        found.append(target_of(chosen, record['ip'], last_scanned=last, held_since=record['held_since'],
                               overdue_since=due or '', device=device['id'], identities=device['identities']))
    return ordered(found)


def host_list_hosts(records, now, rescan_days, devices=None, credit_log=False):
    """The candidates shaped for host_last_scanned's ``hosts`` option (``mac`` only for a MAC identity)."""
    return [host_list_entry(item) for item in candidates(records, now, rescan_days, devices, credit_log)]


def host_list_entry(candidate):
    """One candidate as host_last_scanned's ``hosts`` takes it (``mac`` only for a MAC identity)."""
    return {key: candidate[key] for key in ('ip', 'mac', 'last_scanned', 'held_since') if candidate[key] is not None or key != 'mac'}


def credit_host_list(records, hosts, now):
    """Take scans of other schedules from ``host_last_scanned`` results.

    A Qualys host-list date counts only by the rule of host_list_scan_counts, inside this identity's
    open holding of that IP (the MAC's when the host names one, else the other identity holding the
    IP); returns ``(changed, merged)``.
    """
    changed, merged = set(), []
    without_mac = {record['ip']: key for key, record in records.items()
                   if kind_of(key) != 'mac' and record.get('lease_state') == 'active' and record.get('ip')}
    for host in hosts or []:
        if not isinstance(host, dict) or host.get('source') != 'qualys' or not host.get('last_scanned'):
            continue
        try:
            ip = normalize_ip(host.get('ip') or '')
            mac = normalize_mac(host['mac']) if host.get('mac') else without_mac.get(ip)
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
            merged.append(target_of(mac, ip, last_scanned=scanned_at))
    return changed, merged


def unresolved_intents(records):
    """``{title: [identity key, ...]}`` of launches recorded as intended but never recorded as launched."""
    intents = {}
    for key, record in records.items():
        pending = record.get('pending')
        if pending and not pending.get('scan_ref'):
            intents.setdefault(pending.get('title') or '', []).append(key)
    return intents


def plan(records, now, rescan_days, max_hosts_per_cycle, max_active_scans, title_prefix='roamscan', devices=None,
         credit_log=False, rank=None):
    """What this cycle launches: ``{title, targets: [{identity, mac, ip, overdue_since}], held, held_back,
    held_back_count, resumed, intended_at}``.

    An unresolved intent (a run stopped between recording the intent and recording the scan) is
    resumed first with its own title and the time its intent was first recorded (``intended_at``,
    what the launch module's ``resume.since`` needs to find that scan in any state); otherwise the
    first present, due devices of the queue (one IP each), capped, unless ``max_active_scans``
    roamscan scans are still pending; ``rank`` (due -> due, e.g. _departure.rank) may annotate the queue's
    order first. ``held_back`` lists (up to HELD_BACK_SHOWN of) the due devices
    that wait, each with its place in the queue and why.
    """
    intents = unresolved_intents(records)
    if intents:
        title = sorted(intents)[0]
        targets = [target_of(key, records[key]['pending']['ip'], overdue_since=overdue_since(records[key], rescan_days) or '')
                   for key in sorted(intents[title])]
        intended_at = min(records[key]['pending']['launched_at'] for key in intents[title])
        return _plan(title, targets, None, [], resumed=True, intended_at=intended_at)
    due = candidates(records, now, rescan_days, devices, credit_log)
    due = rank(due) if rank else due
    running = active_scans(records)
    if len(running) >= max_active_scans:
        held = '%d roamscan scan(s) still pending (max_active_scans=%d): %s' % (len(running), max_active_scans, ', '.join(running[:5]))
        dummy, waiting = take(due, 0, 'roamscan scans still pending (max_active_scans=%d)' % max_active_scans)
        return _plan(None, [], held, waiting)
    chosen, waiting = take(due, max_hosts_per_cycle, 'this cycle is full (max_hosts_per_cycle=%d)' % max_hosts_per_cycle)
    targets = [target_of(item['identity'], item['ip'], overdue_since=item['overdue_since']) for item in chosen]
    return _plan('%s %s' % (title_prefix, now) if targets else None, targets, None, waiting)


def _plan(title, targets, held, waiting, resumed=False, intended_at=None):
    return {'title': title, 'targets': targets, 'held': held, 'held_back': waiting[:HELD_BACK_SHOWN],
            'held_back_count': len(waiting), 'resumed': resumed, 'intended_at': intended_at}
