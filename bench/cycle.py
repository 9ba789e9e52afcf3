# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of one scan cycle (playbook roamscan.qualys.scan_overdue) for known:present laptop counts (the present
ones overdue), on the jsonfile fact cache and on a real redis-server, against a naive per-host play that makes
the same decision from the same records (inventory plugin + set_fact per laptop), measured in the same run.

    python bench/cycle.py [--sizes 10000:1000,100000:1000,100000:10000] [--stores jsonfile,redis]
                          [--naive-timeout 900] [--naive-max-known 10000] [--baseline CHECKOUT]

A size without ``:present`` means 10 % present. Runs ansible-playbook from this interpreter's environment with
the collection from this tree, a Qualys simulator on 127.0.0.1 and a local "DHCP server" whose Kea lease file
lists the present laptops; the records are seeded straight through the cache plugin under their record keys.
Each cycle's wall time and CPU time (ansible-playbook and its workers: less noisy on shared cores) are printed.

``--baseline`` names a checkout of an earlier commit (``git worktree add --detach /tmp/base <commit>``): every
size then runs the same cycle with that checkout's collection too, in the same run, on records that checkout's
code seeded, and prints the ratio this tree / baseline (above 1.0 is slower than the baseline).
Goals on 2 cores (jsonfile): 10k/1k <= 8 s, 100k/1k <= 12 s, 100k/10k <= 45 s; 10k -> 100k at 1k present < 1.5x.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from cycle_lab import CycleLab  # noqa: E402  pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402  pylint: disable=wrong-import-position
from redis_lab import RedisServer  # noqa: E402  pylint: disable=wrong-import-position

GOALS = {(10000, 1000): 8, (100000, 1000): 12, (100000, 10000): 45}

NAIVE_PLAY = """---
- name: Naive decision, one host per laptop
  hosts: roaming_clients
  gather_facts: false
  tasks:
    - name: Decide per laptop
      ansible.builtin.set_fact:
        due: >-
          {{ roamscan.lease_state == 'active' and roamscan.lease_expires > now_iso
             and roamscan.pending is none
             and (roamscan.last_scanned is none or roamscan.last_scanned < cutoff_iso) }}
      vars:
        now_iso: "{{ now(utc=true, fmt='%Y-%m-%dT%H:%M:%SZ') }}"
        cutoff_iso: "{{ '%sZ' % (now(utc=true) - timedelta(days=30)).isoformat(timespec='seconds') }}"

- name: Collect the targets
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Targets
      ansible.builtin.debug:
        msg: "{{ groups['roaming_clients'] | map('extract', hostvars) | selectattr('due') | map(attribute='roamscan.ip') | list | length }}"
"""


def environment(root, tree=ROOT):
    home = root / 'ansible-home'
    collections = root / 'collections' / 'ansible_collections' / 'roamscan'
    collections.mkdir(parents=True)
    (collections / 'qualys').symlink_to(tree)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'QUALYS_'))}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(root / 'collections'), 'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
                'ANSIBLE_HOME': str(home), 'ANSIBLE_LOCAL_TEMP': str(home / 'tmp'), 'ANSIBLE_NOCOLOR': '1'})
    return env


def seed(lab, known, present):
    """Records straight into the configured cache through the plugin API under their record keys (as earlier cycles would have left them)."""
    code = r'''
import datetime, sys
sys.path.insert(0, sys.argv[3])
sys.path.insert(0, sys.argv[4])
from ansible.plugins.loader import init_plugin_loader
init_plugin_loader([sys.argv[3]])
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import new_record
from ansible_collections.roamscan.qualys.plugins.module_utils._time import format_time
from legacy_records import legacy_write
try:
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import store_key
except ImportError:   # a baseline from before record keys reads records under their 0.1 host names
    store_key = None
known, present = int(sys.argv[1]), int(sys.argv[2])
now = datetime.datetime.now(datetime.timezone.utc)
t = lambda **d: format_time(now + datetime.timedelta(**d))
records = {}
for i in range(known):
    mac = '02:%02x:%02x:%02x:%02x:%02x' % (i >> 32 & 255, i >> 24 & 255, i >> 16 & 255, i >> 8 & 255, i & 255)
    rec = new_record(mac, t(days=-90))
    ip = '10.%d.%d.%d' % (100 + (i >> 16 & 63), i >> 8 & 255, i & 255)
    if i < present:   # here now, last scanned 40 days ago: due
        rec.update(ip=ip, held_since=t(hours=-1), last_seen=t(minutes=-15), lease_state='active', lease_expires=t(hours=1),
                   last_scanned=t(days=-40), dhcp_server='dhcp1')
    else:             # away; some scanned recently, some overdue
        rec.update(ip=ip, held_since=t(days=-20), last_seen=t(days=-19), lease_state='expired', lease_expires=t(days=-19),
                   last_scanned=t(days=-(i % 60)), dhcp_server='dhcp1',
                   ip_history=[{'ip': ip, 'from': t(days=-20), 'to': t(days=-19)}])
    records[mac] = rec
legacy_write(records, key_of=store_key)
print(','.join('%s %s' % (records[m]['ip'], m) for m in list(records)[:present]))
'''
    env = dict(lab.env, PATH='%s:%s' % (lab.venv_bin, os.environ.get('PATH', '')))
    out = subprocess.run([lab.python, '-c', code, str(known), str(present), str(lab.root.parent / 'collections'), str(ROOT / 'tests' / 'support')],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    return [tuple(item.split(' ')) for item in out.split(',')] if out else []


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(run):
    """(wall seconds, CPU seconds of the child processes, the finished process)."""
    start, cpu = time.monotonic(), children_cpu()
    proc = run()
    elapsed, cpu = time.monotonic() - start, children_cpu() - cpu
    if proc.returncode != 0:
        raise SystemExit('run failed (rc=%s):\n%s\n%s' % (proc.returncode, proc.stdout[-4000:], proc.stderr[-2000:]))
    return elapsed, cpu, proc


def naive(lab, timeout):
    play = lab.root / 'naive.yml'
    play.write_text(NAIVE_PLAY)
    env = dict(lab.env, PATH='%s:%s' % (lab.venv_bin, os.environ.get('PATH', '')),
               ANSIBLE_INVENTORY_ENABLED='roamscan.qualys.laptops', ANSIBLE_FORKS='10')
    command = [str(lab.venv_bin / 'ansible-playbook'), '-i', str(lab.root / 'roamscan.laptops.yml'), str(play)]
    try:
        return timed(lambda: subprocess.run(command, env=env, cwd=str(lab.root), capture_output=True, text=True,
                                            timeout=timeout, check=False))[0]
    except subprocess.TimeoutExpired:
        return None


def parse_sizes(text):
    sizes = []
    for item in text.split(','):
        known, dummy, present = item.partition(':')
        sizes.append((int(known), int(present) if present else int(known) // 10))
    return sizes


def lab_for(kind, base, redis, tree=ROOT):
    env = environment(base, tree)
    if kind == 'redis':
        env['ANSIBLE_COLLECTIONS_SCAN_SYS_PATH'] = 'true'   # community.general from the ansible package
        return CycleLab(base / 'lab', env, cache='community.general.redis', cache_connection=redis.connection)
    return CycleLab(base / 'lab', env)


def one_cycle(tree, kind, base, redis, sim, known, present):
    """Seed ``known`` records with ``tree``'s code and time one cycle of ``tree``'s collection: (lab, wall, cpu)."""
    if redis is not None:
        redis.flush()
    lab = lab_for(kind, base, redis, tree)
    leases = seed(lab, known, present)
    lab.write_leases('dhcp1', [(ip, mac, 3600) for ip, mac in leases])
    sim.state.reset()
    settings = {'roamscan_max_hosts_per_cycle': present, 'roamscan_use_qualys_host_list': False}
    wall, cpu, dummy = timed(lambda: lab.run(sim, extra_vars=settings))
    launches = [c for c in sim.state.calls if c['params'].get('action') == 'launch']
    assert len(launches) == 1, 'expected exactly one launch call'
    return lab, wall, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default='10000:1000,100000:1000,100000:10000')
    parser.add_argument('--stores', default='jsonfile,redis')
    parser.add_argument('--naive-timeout', type=float, default=900)
    parser.add_argument('--naive-max-known', type=int, default=10000, help='skip the naive play above this many laptops')
    parser.add_argument('--baseline', type=Path, help='a checkout of an earlier commit to run the same cycles with')
    args = parser.parse_args()
    sizes = parse_sizes(args.sizes)
    baseline_tree = args.baseline.resolve() if args.baseline else None
    if baseline_tree is not None and not (baseline_tree / 'playbooks' / 'scan_overdue.yml').is_file():
        parser.error('--baseline %s is no checkout of this collection' % args.baseline)
    rows, compared = [], []
    with tempfile.TemporaryDirectory(prefix='roamscan-bench-') as tmp, QualysSimulator() as sim:
        redis = RedisServer(Path(tmp)).start() if 'redis' in args.stores.split(',') else None
        try:
            for kind in args.stores.split(','):
                for known, present in sizes:
                    base = Path(tmp) / ('%s-%d-%d' % (kind, known, present))
                    if baseline_tree is not None:
                        dummy, old_wall, old_cpu = one_cycle(baseline_tree, kind, base.with_name(base.name + '-baseline'),
                                                             redis, sim, known, present)
                    lab, cycle, cpu = one_cycle(ROOT, kind, base, redis, sim, known, present)
                    baseline = naive(lab, args.naive_timeout) if known <= args.naive_max_known else None
                    rows.append((kind, known, present, cycle, baseline))
                    goal = GOALS.get((known, present)) if kind == 'jsonfile' else None
                    print('%-8s known=%6d present=%5d cycle=%7.2fs cpu=%7.2fs naive_per_host=%s ratio(naive/cycle)=%s%s' % (
                        kind, known, present, cycle, cpu, '%.2fs' % baseline if baseline else 'skipped/timeout',
                        '%.1fx' % (baseline / cycle) if baseline else '-',
                        ' goal <= %d s: %s' % (goal, 'met' if cycle <= goal else 'NOT met') if goal else ''), flush=True)
                    if baseline_tree is not None:
                        compared.append((kind, known, present, cycle, cpu, old_wall, old_cpu))
                        print('%-8s known=%6d present=%5d baseline cycle=%7.2fs cpu=%7.2fs' % (
                            kind, known, present, old_wall, old_cpu), flush=True)
        finally:
            if redis is not None:
                redis.stop()
    print('\ngrowth at the same number present (goal 10k -> 100k known at 1k present < 1.5x):')
    for kind, known, present, cycle, dummy in rows:
        smallest = min((row for row in rows if row[0] == kind and row[2] == present), key=lambda row: row[1])
        if smallest[1] != known:
            print('  %-8s %d -> %d known at %d present: cycle x%.2f' % (kind, smallest[1], known, present, cycle / smallest[3]))
    if compared:
        print('\nthis tree / baseline %s (same run; above 1.0 is slower):' % baseline_tree)
        for kind, known, present, cycle, cpu, old_wall, old_cpu in compared:
            print('  %-8s known=%6d present=%5d cpu %.2fs / %.2fs = %.2fx   wall %.2fs / %.2fs = %.2fx' % (
                kind, known, present, cpu, old_cpu, cpu / old_cpu, cycle, old_wall, cycle / old_wall))
    return 0


if __name__ == '__main__':
    sys.exit(main())
