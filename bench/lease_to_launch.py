# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lease-to-launch latency of event-driven roamscan (root): from the moment a laptop (busybox udhcpc
in a network namespace) is bound by a real dnsmasq carrying the roamscan hook, to the moment the
Qualys simulator receives the launch call carrying its IP, with ansible-rulebook running the shipped
rulebook roamscan.qualys.scan_arriving_laptops. Goal: <= 10 s.

Baseline in the same run: the same cycle run by hand (ansible-playbook roamscan.qualys.scan_overdue
started the moment the laptop is bound), i.e. the part of the latency that is the cycle itself.

    sudo .venv/py312/bin/python bench/lease_to_launch.py [--laptops 3]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from eda_lab import EdaLab  # noqa: E402  pylint: disable=wrong-import-position
from netns import wait_until  # noqa: E402  pylint: disable=wrong-import-position

GOAL_SECONDS = 10.0


def ansible_environment(root):
    """This tree as the only roamscan.qualys, no user configuration (like the test fixtures)."""
    namespace = root / 'collections' / 'ansible_collections' / 'roamscan'
    namespace.mkdir(parents=True)
    (namespace / 'qualys').symlink_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'QUALYS_'))}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(root / 'collections'), 'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
                'ANSIBLE_HOME': str(root / 'ansible-home'), 'ANSIBLE_NOCOLOR': '1',
                'PATH': '%s:%s' % (Path(sys.executable).parent, env.get('PATH', '/usr/bin:/bin'))})
    return env


def bound_at(client):
    """Wall-clock time (epoch) of the client's latest 'bound' event, as its event script logged it."""
    lines = [line for line in client.events_file.read_text().splitlines() if line.startswith('EVENT bound')]
    return float(lines[-1].rsplit('t=', 1)[1])


def launch_seen_for(lab, ip, timeout=120):
    """Wall-clock time at which a successful launch call naming ``ip`` reached the simulator."""
    wait_until(lambda: any(ip in call['params'].get('ip', '').split(',') for call in lab.launches()), timeout,
               interval=0.01, what='a launch of %s' % ip)
    return time.time()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n', maxsplit=1)[0])
    parser.add_argument('--laptops', type=int, default=3, help='arrivals measured through EDA (default 3)')
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error('needs root (network namespaces)')
    work = Path(tempfile.mkdtemp(prefix='roamscan-bench-eda-'))
    os.chmod(work, 0o755)
    try:
        with EdaLab(work / 'lab', ansible_environment(work), clients=args.laptops + 1) as lab:
            # Baseline: the cycle alone, started by hand as soon as the laptop is bound.
            laptop = lab.dhcp.run_udhcpc(0, hostname='baseline')
            laptop.wait_for('bound')
            started = time.time()
            cycle = subprocess.Popen(['ansible-playbook', '-i', str(lab.workdir / 'inventory.yml'),
                                      'roamscan.qualys.scan_overdue'], env=lab.env, cwd=lab.workdir,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            baseline = launch_seen_for(lab, laptop.address()) - started
            cycle.wait(300)

            lab.start_rulebook()
            latencies = []
            for index in range(1, args.laptops + 1):
                laptop = lab.dhcp.run_udhcpc(index, hostname='laptop-%d' % index)
                laptop.wait_for('bound')
                latencies.append(launch_seen_for(lab, laptop.address()) - bound_at(laptop))
                lab.wait_for_cycle_runs(index)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median = statistics.median(latencies)
    print('cycle alone (ansible-playbook started at bound -> launch call): %.2f s' % baseline)
    for index, latency in enumerate(latencies, 1):
        print('laptop %d: lease bound -> launch call through EDA: %.2f s' % (index, latency))
    print('median lease-to-launch %.2f s, max %.2f s; %.2fx the cycle alone; goal <= %.0f s: %s'
          % (median, max(latencies), median / baseline, GOAL_SECONDS, 'met' if max(latencies) <= GOAL_SECONDS else 'NOT met'))
    return 0 if max(latencies) <= GOAL_SECONDS else 1


if __name__ == '__main__':
    sys.exit(main())
