# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A simulated day of Qualys API calls per service tier: the 2014 script, today's cycle and the budget governor.

All three run in the same process against the Qualys simulator on 127.0.0.1 with its clock stopped (it moves only
when the day's events move it, so a day takes seconds), through the collection's own client and planner code:
  seed      one launch per arriving laptop not scanned in N days (the 2014 script; it polls nothing);
  main      the cycle without the governor: every 15 minutes and once per arriving device (the EDA rulebook,
            once per MAC); a status poll whenever scans are pending, the host list for every due device, the
            reuse lookup before every launch;
  governor  the cycle with plugin_utils/_budget.py and _departure.py: EDA arrivals batched in 60 s windows plus the
            15-minute schedule, one budget shared by both.
The day: 500 laptops arriving 08:00-09:30 and leaving over the day (one in ten within the hour), 200 VPN-style
visits of 15-90 min from 07:00 to 20:00; every device overdue; a scan queues 190 s, runs 600 s, is processed
300 s later. A second scenario is the trickle: one laptop per 15-minute cycle for a day, each staying 4 h.
Both cycles use roamscan_max_active_scans=10 (the default 1 would hold every launch behind the one before).
A cycle stops at its first Qualys error, as the playbook's rescue does (max_wait=0: no in-task waiting).

    python bench/api_day.py [--tiers standard,express] [--seed 7]
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import statistics
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _import_paths():
    collections_dir = tempfile.mkdtemp(prefix='roamscan-bench-')
    os.makedirs(os.path.join(collections_dir, 'ansible_collections', 'roamscan'))
    os.symlink(ROOT, os.path.join(collections_dir, 'ansible_collections', 'roamscan', 'qualys'))
    sys.path[:0] = [collections_dir, os.path.join(ROOT, 'tests', 'support')]


_import_paths()

# pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_client import QualysClient  # noqa: E402
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import QualysError  # noqa: E402
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_hosts import (  # noqa: E402
    assess, host_list_params, normalize_hosts)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_scans import (  # noqa: E402
    launch_plan, plan_launches, read_status)
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time, parse_time  # noqa: E402
from ansible_collections.roamscan.qualys.plugins.plugin_utils import _budget, _decide  # noqa: E402
from ansible_collections.roamscan.qualys.plugins.plugin_utils._confirm import confirm  # noqa: E402
from ansible_collections.roamscan.qualys.plugins.plugin_utils._departure import rank  # noqa: E402
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import read_settings  # noqa: E402

DAY = parse_time('2026-12-01T00:00:00Z').timestamp()
CYCLE_SEC = 900
BATCH_WINDOW_SEC = 60
LAUNCH_OPTIONS = {'option_title': 'Laptop Light Scan', 'iscanner_name': 'laptop_scanner_1'}
SIM_CONFIG = {'clock': 'stopped', 'queue_seconds': 190, 'scan_seconds': 600, 'process_seconds': 300}
COMMON = {'roamscan_max_active_scans': 10, 'roamscan_option_profile': 'Laptop Light Scan'}
GOVERNOR = dict(COMMON, roamscan_batch_min_targets=5)
LIMITS = {'standard': (300, 3600), 'express': (50, 86400)}
HOUR = 3600


def at(hour, minute=0, second=0):
    return DAY + hour * HOUR + minute * 60 + second


class Device:
    def __init__(self, number, arrive, leave, usual_minutes, rng):
        self.mac = '02:77:%02x:%02x:%02x:%02x' % (number >> 24 & 255, number >> 16 & 255, number >> 8 & 255, number & 255)
        self.ip = '10.80.%d.%d' % (number // 250, number % 250 + 1)
        self.arrive, self.leave = arrive, leave
        # five earlier visits like this one: the departure estimate's own history
        self.past = []
        for days_ago in range(1, 6):
            start = arrive - days_ago * 86400 + rng.uniform(-1800, 1800)
            self.past.append({'ip': self.ip, 'from': iso_time(start), 'to': iso_time(start + usual_minutes * 60 * rng.uniform(0.8, 1.2))})


def simulated_day(rng):
    devices = []
    for number in range(500):
        arrive = at(8) + rng.uniform(0, 90 * 60)
        stay = rng.uniform(30, 59) * 60 if number % 10 == 0 else at(12) - arrive + rng.uniform(0, 6 * HOUR)
        devices.append(Device(number + 1, arrive, arrive + stay, stay / 60, rng))
    for number in range(500, 700):
        arrive = at(7) + rng.uniform(0, 13 * HOUR)
        stay = rng.uniform(15, 90) * 60
        devices.append(Device(number + 1, arrive, arrive + stay, stay / 60, rng))
    return devices


def trickle_day(rng):
    devices = []
    for number in range(96):
        arrive = DAY + number * CYCLE_SEC - 30   # just before a cycle
        devices.append(Device(number + 1, arrive, arrive + 4 * HOUR, 240, rng))
    return devices


class Lab:
    """The simulator, the ground truth and the controller's records for one approach on one tier."""

    def __init__(self, tier, devices):
        self.sim = QualysSimulator(start_epoch=DAY, config=dict(SIM_CONFIG, tier=tier)).start()
        self.tier, self.devices = tier, devices
        self.by_ip = {device.ip: device for device in devices}
        self.launched = {}         # ip -> first launch time
        self.records = {}
        self.faults = collections.Counter()

    def stop(self):
        self.sim.stop()

    def client(self):
        return QualysClient(self.sim.url, self.sim.username, self.sim.password, max_wait=0)

    def move_to(self, moment):
        """Move the simulator to ``moment``; who is alive (answers a scan) is who is present."""
        self.sim.state.advance(set_to=iso_time(moment))
        self.sim.state.set_alive([device.ip for device in self.devices if device.arrive <= moment < device.leave])

    def now(self):
        return self.sim.state.now()

    def note_launch(self, ips):
        for ip in ips:
            self.launched.setdefault(ip, self.now())

    def refresh_records(self, moment):
        """What the DHCP/VPN hooks told the store by ``moment`` (the collect and remember stages)."""
        now = iso_time(moment)
        for device in self.devices:
            if device.arrive > moment:
                continue
            record = self.records.get(device.mac)
            if record is None:
                record = self.records[device.mac] = {
                    'schema': 1, 'mac': device.mac, 'ip': device.ip, 'hostname': None, 'first_seen': '2026-09-01T08:00:00Z',
                    'last_seen': now, 'lease_state': 'active', 'lease_expires': iso_time(moment + HOUR),
                    'held_since': iso_time(device.arrive), 'dhcp_server': 'dhcp1', 'ip_history': list(device.past),
                    'last_scanned': '2026-10-01T08:00:00Z', 'last_scan_ref': None, 'pending': None}
            if record['lease_state'] == 'active':
                if moment < device.leave:
                    record.update(last_seen=now, lease_expires=iso_time(moment + HOUR))
                else:
                    record['ip_history'].append({'ip': device.ip, 'from': record['held_since'], 'to': iso_time(device.leave)})
                    record.update(lease_state='released', last_seen=iso_time(device.leave))


def run_seed(lab, moments):
    """One launch per arrival (the device is overdue: it has no scan in N days)."""
    for device in sorted(lab.devices, key=lambda item: item.arrive):
        lab.move_to(device.arrive)
        try:
            lab.client().launch_scan(dict(LAUNCH_OPTIONS, scan_title='single %s' % device.ip, ip=device.ip))
            lab.note_launch([device.ip])
        except QualysError as exc:
            lab.faults[type(exc).__name__] += 1
    del moments


def cycle(lab, moment, settings, state, governed):
    """One scan cycle at ``moment``: confirm, decide, launch, record - main's stages, or the governor's."""
    lab.move_to(moment)
    lab.refresh_records(moment)
    now = iso_time(moment)
    records = lab.records
    used = []
    try:
        pending = _budget.pending_scans(records)
        poll = bool(pending)
        if governed:
            poll = _budget.poll_decision(state, pending, now, settings)[0]
        scans = []
        if poll:
            client = lab.client()
            used.append(client)
            scans = read_status(client, [item['ref'] for item in pending], {})
            if governed:
                _budget.learn_scans(state, pending, scans, now)
        confirm(records, scans, now, 24)
        due = _decide.candidates(records, now, 30)
        lead = _budget.lead_seconds(state, settings, len(due))
        gate = None
        if governed:
            due = rank(due, records, now, lead)
            gate = _budget.launch_decision(state, due, now, settings)
        hosts = [{key: item[key] for key in ('ip', 'mac', 'last_scanned', 'held_since')} for item in due] if not gate else []
        if governed and hosts:
            hosts = _budget.host_list_wanted(state, hosts, now, settings)[0]
        if hosts:
            client = lab.client()
            used.append(client)
            found = client.list_hosts(host_list_params([host['ip'] for host in hosts]))['hosts']
            _decide.credit_host_list(records, assess(normalize_hosts(hosts), found, parse_time(now), 30), now)
            if governed:
                _budget.remember_host_list(state, [host['mac'] for host in hosts], now, settings['host_list_cache_hours'])
        by_risk = (lambda queue: rank(queue, records, now, lead)) if governed else None
        plan = _decide.plan(records, now, 30, 500, settings['max_active_scans'], devices=None, rank=by_risk)
        if plan['targets'] and governed and (gate or _budget.launch_decision(state, due, now, settings, batching=False)):
            return
        if plan['targets']:
            client = lab.client()
            used.append(client)
            ips = [item['ip'] for item in plan['targets']]
            launched = launch_plan(client, plan_launches(ips, plan['title']), LAUNCH_OPTIONS, lab.sim.username,
                                   reuse_active=not governed, recover_lost=governed)
            lab.note_launch(ips)
            for item in plan['targets']:
                records[item['mac']]['pending'] = {'scan_ref': launched[0]['ref'], 'ip': item['ip'], 'launched_at': now,
                                                   'title': plan['title']}
    except QualysError as exc:
        lab.faults[type(exc).__name__] += 1
    finally:
        if governed:
            for client in used:
                _budget.fold_usage(state, client.api_usage(), now)


def run_cycles(lab, moments, governed):
    settings = read_settings(GOVERNOR if governed else COMMON)
    state = _budget.parse_budget(None)
    for moment in moments:
        cycle(lab, moment, settings, state, governed)


def schedule(start, end):
    return [start + step * CYCLE_SEC for step in range(int((end - start) // CYCLE_SEC) + 1)]


def eda_per_arrival(devices):
    return [device.arrive + 1 for device in devices]


def eda_batches(devices):
    """When the presence_spool source closes each 60 s batch window (opened by its first arrival)."""
    closes, opened = [], None
    for arrive in sorted(device.arrive for device in devices):
        if opened is None or arrive >= opened + BATCH_WINDOW_SEC:
            if opened is not None:
                closes.append(opened + BATCH_WINDOW_SEC)
            opened = arrive
    return closes + ([opened + BATCH_WINDOW_SEC] if opened is not None else [])


def measure(lab, end):
    lab.move_to(end)
    calls = [call for call in lab.sim.state.calls if call['status'] == 200]
    blocked = sum(1 for call in lab.sim.state.calls if call['status'] == 409)
    per_api_hour = collections.Counter((call['api'], call['at'][:13]) for call in calls)
    per_api_day = collections.Counter(call['api'] for call in calls)
    scanned_ips = {host['ip'] for host in lab.sim.state.snapshot()['hosts']}
    long_stays = [device for device in lab.devices if device.leave - device.arrive >= HOUR]
    waits = sorted(lab.launched[device.ip] - device.arrive for device in long_stays if device.ip in lab.launched)
    gone = sum(1 for ip, when in lab.launched.items() if lab.by_ip[ip].leave < when + 190 + 600)
    scanned = [device for device in lab.devices if device.ip in scanned_ips]
    return {
        'max_per_hour': max(((count, api) for (api, dummy), count in per_api_hour.items()), default=(0, '-')),
        'per_day': dict(per_api_day), 'total': len(calls), 'blocked': blocked,
        'share_long_scanned': sum(1 for device in long_stays if device.ip in scanned_ips) / float(len(long_stays) or 1),
        'long_stays': len(long_stays), 'scanned': len(scanned),
        'median_wait': statistics.median(waits) if waits else None,
        'p95_wait': waits[int(0.95 * (len(waits) - 1))] if waits else None,
        'launched_gone': gone, 'faults': dict(lab.faults),
    }


def run(approach, tier, devices, moments_of):
    lab = Lab(tier, devices)
    try:
        if approach == 'seed':
            run_seed(lab, None)
        else:
            run_cycles(lab, moments_of(approach), approach == 'governor')
        return measure(lab, at(23, 59))
    finally:
        lab.stop()


def minutes(seconds):
    return '-' if seconds is None else '%.1f' % (max(seconds, 0) / 60.0)


def show_day(tier, results):
    limit, window = LIMITS[tier]
    reserve = -(-limit * 10 // 100)
    print('\n== %s tier: %d calls per API per %s (reserve 10%%: roamscan plans within %d) ==' % (
        tier, limit, 'hour' if window == HOUR else 'day', limit - reserve))
    print('%-9s %18s %40s %7s %9s %12s %12s %12s %14s' % (
        'approach', 'max calls/API/h', 'calls per API that day', 'blocked', 'scanned', '>=1h scanned',
        'median wait', 'p95 wait', 'launched gone'))
    for approach, result in results.items():
        count, api = result['max_per_hour']
        day = ', '.join('%s %d' % item for item in sorted(result['per_day'].items()))
        print('%-9s %18s %40s %7d %9d %11.1f%% %10s m %10s m %14d' % (
            approach, '%d (%s)' % (count, api), day, result['blocked'], result['scanned'], 100 * result['share_long_scanned'],
            minutes(result['median_wait']), minutes(result['p95_wait']), result['launched_gone']))
        if result['faults']:
            print('%9s cycles stopped by Qualys errors: %s' % ('', result['faults']))
    base = results['main']['total']
    for approach in ('seed', 'governor'):
        print('%s: %d calls that day, %.2fx main\'s %d; per laptop scanned: %.2f (main %.2f)' % (
            approach, results[approach]['total'], results[approach]['total'] / float(base or 1), base,
            results[approach]['total'] / float(results[approach]['scanned'] or 1),
            base / float(results['main']['scanned'] or 1)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--tiers', default='standard,express')
    parser.add_argument('--seed', type=int, default=7)
    options = parser.parse_args()
    devices = simulated_day(random.Random(options.seed))
    day_moments = {'main': sorted(schedule(at(0), at(23, 45)) + eda_per_arrival(devices)),
                   'governor': sorted(schedule(at(0), at(23, 45)) + eda_batches(devices))}
    for tier in options.tiers.split(','):
        show_day(tier, {approach: run(approach, tier, devices, day_moments.get) for approach in ('seed', 'main', 'governor')})
    trickle = trickle_day(random.Random(options.seed))
    moments = schedule(at(0), at(23, 45))
    print('\n== trickle: one laptop per 15-minute cycle for a day (96 laptops, 4 h each), standard tier, schedule only ==')
    print('%-9s %12s %9s %22s %12s' % ('approach', 'calls', 'scanned', 'calls per laptop scanned', 'median wait'))
    for approach in ('main', 'governor'):
        result = run(approach, 'standard', trickle, lambda dummy: moments)
        print('%-9s %12d %9d %22.2f %10s m' % (approach, result['total'], result['scanned'],
                                               result['total'] / float(result['scanned'] or 1), minutes(result['median_wait'])))


if __name__ == '__main__':
    main()
