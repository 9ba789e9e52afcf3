# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""API calls per scanned laptop: roamscan's batched cycle vs one call per host (the 2014 script's way).

Both run in the same process against the Qualys simulator on 127.0.0.1, through the collection's
own client. roamscan's cycle for N present, overdue laptops:
  host_last_scanned (host list, paginated by 1000) -> qualys_scan_launch (ONE launch, as the playbook calls it:
  no reuse lookup, recover_lost)
  -> qualys_scan_status once per 15-minute cycle until done (one call per poll) + one result fetch.
The baseline launches one scan per laptop (one call per host) and is not even charged for polling.
It then prints the calls of the launch step alone: a normal launch vs resuming an intent (the scan
exists and has finished / Qualys has none), which costs at most its one scan-list lookup more; and
the whole cycle with 2 and 4 scanner route groups against one group (each group costs its
launch; the status polls stay one call for all scans).

    python bench/api_calls.py [--sizes 1,10,100,500,1000,2000]
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CYCLE_SEC = 900
STANDARD_CALLS_PER_HOUR = 300


def _import_paths():
    collections = tempfile.mkdtemp(prefix='roamscan-bench-')
    os.makedirs(os.path.join(collections, 'ansible_collections', 'roamscan'))
    os.symlink(ROOT, os.path.join(collections, 'ansible_collections', 'roamscan', 'qualys'))
    sys.path[:0] = [collections, os.path.join(ROOT, 'tests', 'support')]


_import_paths()

# pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_client import QualysClient  # noqa: E402
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_hosts import (  # noqa: E402
    assess,
    host_list_params,
    normalize_hosts,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_scans import (  # noqa: E402
    launch_plan,
    plan_launches,
    read_status,
)

LAUNCH_OPTIONS = {'option_title': 'Laptop Light Scan', 'iscanner_name': 'laptop_scanner_1'}
SCANNERS = ('laptop_scanner_1', 'laptop_scanner_2')
# how playbooks/scan_overdue.yml launches: no scan-list lookup before the launch, one only after a lost answer
CYCLE_LAUNCH = {'reuse_active': False, 'recover_lost': True}


def laptops(count):
    """Scattered DHCP addresses (every third IP of a /16), as laptops hold them."""
    return ['10.%d.%d.%d' % (80 + i // 20000, (i * 3) // 250 % 250, (i * 3) % 250 + 1) for i in range(count)]


def fresh_sim():
    sim = QualysSimulator(config={'limits': {'*': {'limit': 100000, 'window_sec': 3600, 'concurrency': 2}}})
    return sim.start()


def roamscan_cycle(count, groups=1):
    """Calls spent and laptops credited as scanned by one batched cycle. With ``groups`` scanner route
    groups (roamscan_scanner_routes) the laptops are split between them and each group is one
    launch with its own title and appliance, as cycle_verify plans it; the status polls cover all."""
    import datetime
    sim = fresh_sim()
    try:
        client = QualysClient(sim.url, sim.username, sim.password)
        ips = laptops(count)
        hosts = normalize_hosts(ips)
        records = client.list_hosts(host_list_params(ips))['hosts']
        now = datetime.datetime.now(datetime.timezone.utc)
        overdue = [h['ip'] for h in assess(hosts, records, now, 30) if h['overdue']]
        scans = []
        for group in range(groups):
            title = 'roamscan bench' if group == 0 else 'roamscan bench via scanner %d' % group
            options = dict(LAUNCH_OPTIONS, iscanner_name=SCANNERS[group % len(SCANNERS)])
            scans += launch_plan(client, plan_launches(overdue[group::groups], title), options, sim.username, **CYCLE_LAUNCH)
        refs = [scan['ref'] for scan in scans]
        cache = {}
        while True:
            sim.state.advance(CYCLE_SEC)          # the next scheduled run
            report = read_status(client, refs, cache)
            if all(scan['done'] for scan in report):
                break
        scanned = sum(len(scan['scanned']) for scan in report)
        return client.api_calls, scanned
    finally:
        sim.stop()


def one_call_per_host(count):
    """The 2014 script's way: one launch per laptop (its status polling is not even counted)."""
    sim = fresh_sim()
    try:
        client = QualysClient(sim.url, sim.username, sim.password)
        for ip in laptops(count):
            client.launch_scan(dict(LAUNCH_OPTIONS, scan_title='single %s' % ip, ip=ip))
        return client.api_calls
    finally:
        sim.stop()


def launch_step_calls(count):
    """(normal launch, resume finding the finished scan, resume finding none): API calls of the launch step."""
    import datetime
    sim = fresh_sim()
    try:
        since = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')
        spent = []
        for title, resume in (('roamscan bench', None), ('roamscan bench', since), ('roamscan other', since)):
            client = QualysClient(sim.url, sim.username, sim.password)
            launch_plan(client, plan_launches(laptops(count), title), LAUNCH_OPTIONS, sim.username, resume_since=resume,
                        **CYCLE_LAUNCH)
            spent.append(client.api_calls)
            sim.state.scan_action('*', 'process')
        return spent
    finally:
        sim.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sizes', default='1,10,100,500,1000,2000')
    sizes = [int(size) for size in parser.parse_args().sizes.split(',')]
    print('%8s %11s %12s %15s %16s %9s %22s' % ('laptops', 'calls', 'calls/laptop', 'baseline calls',
                                                'baseline/laptop', 'ratio', 'baseline h @300/h'))
    for count in sizes:
        calls, scanned = roamscan_cycle(count)
        if scanned != count:
            raise SystemExit('only %d of %d laptops were credited as scanned' % (scanned, count))
        baseline = one_call_per_host(count)
        print('%8d %11d %12.4f %15d %16.4f %8.1fx %22.1f' % (
            count, calls, calls / scanned, baseline, baseline / count, (baseline / count) / (calls / scanned),
            math.ceil(baseline / STANDARD_CALLS_PER_HOUR * 10) / 10))
    print()
    print('%8s %13s %22s %20s %7s' % ('laptops', 'launch calls', 'resume, scan finished', 'resume, no scan', 'ratio'))
    for count in sizes:
        normal, found, missing = launch_step_calls(count)
        print('%8d %13d %22d %20d %6.2fx' % (count, normal, found, missing, max(found, missing) / normal))
    print()
    print('scanner routes: the whole cycle with G route groups vs one group, same laptops')
    print('%8s %7s %11s %17s %7s' % ('laptops', 'groups', 'calls', 'calls, one group', 'ratio'))
    for count in sizes:
        single = roamscan_cycle(count)[0]
        for groups in (2, 4):
            if groups > count:
                continue
            calls, scanned = roamscan_cycle(count, groups)
            if scanned != count:
                raise SystemExit('only %d of %d laptops were credited with %d groups' % (scanned, count, groups))
            print('%8d %7d %11d %17d %6.2fx' % (count, groups, calls, single, calls / single))


if __name__ == '__main__':
    main()
