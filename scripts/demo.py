#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Driver of scripts/demo: one controller directory (jsonfile fact cache), the Qualys simulator on
loopback, a DHCP server with three laptops, two cycles and the coverage report.

As root the DHCP server is a real Kea with the roamscan hook (deployed by the dhcp_hook role) in a
network namespace and the laptops are busybox udhcpc clients in namespaces of their own; without
root (or with --lease-file) the laptops are rows in a Kea lease file. Every process the demo
starts is stopped by PID and the namespaces are deleted when it ends, also on Ctrl-C."""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from cycle_lab import CycleLab, RealKea, launch_call_ips, launch_calls, summary_of  # noqa: E402  pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402  pylint: disable=wrong-import-position

LAPTOPS = [('10.77.0.100', '02:77:00:00:0a:01', 3600, 'alice-laptop'),
           ('10.77.0.101', '02:77:00:00:0b:02', 3600, 'bob-laptop'),
           ('10.77.0.102', '02:77:00:00:0c:03', 3600, 'carol-laptop')]


class CycleFailed(Exception):
    pass


def show(title, summary):
    print('\n=== %s' % title)
    for key in ('known', 'present', 'overdue', 'pending', 'credited', 'launched', 'launched_targets', 'held'):
        print('  %-17s %s' % (key, json.dumps(summary[key])))


def show_launch_calls(sim, seen):
    calls = launch_calls(sim)
    for call in calls[seen:]:
        count = len(launch_call_ips(call))
        print('  Qualys launch call: ip=%s (%d IP%s), scan_title=%s'
              % (call['params']['ip'], count, '' if count == 1 else 's', call['params'].get('scan_title')))
    print('  Qualys launch calls in total: %d' % len(calls))


def show_inventory(lab):
    records, groups = lab.inventory()
    print('\n=== inventory plugin roamscan.qualys.laptops (%s)' % (lab.root / 'roamscan.laptops.yml'))
    for group in ('roaming_clients', 'roaming_present', 'roaming_overdue', 'roaming_pending'):
        print('  %-16s %s' % (group, ' '.join(sorted(groups.get(group, ())))))
    for host in sorted(records):
        record = records[host]
        pending = (record['pending'] or {}).get('scan_ref')
        print('  %s %-13s %-13s last_scanned=%s pending=%s'
              % (host, record['hostname'], record['ip'], record['last_scanned'], pending))


def run_cycle(lab, sim, title):
    proc = lab.run(sim)
    if proc.returncode != 0:
        raise CycleFailed('%s failed (rc=%d):\n%s' % (title, proc.returncode, (proc.stdout + proc.stderr)[-6000:]))
    summary = summary_of(proc)
    show(title, summary)
    return summary


def stop_on_signals():
    """Ctrl-C, SIGTERM and SIGHUP end the demo through the clean-up below (SIGINT too when the
    demo was started in the background, where shells ignore it)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt('signal %d' % signum)
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def report_cleanup(kea):
    namespaces = kea.net.client_ns + [kea.net.server_ns]
    left = set(subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=False).stdout.split()) & set(namespaces)
    running = [str(process.pid) for process in kea.net.processes if process.alive()]
    print('\ncleaned up: stopped PIDs %s; network namespaces %s %s'
          % (' '.join(str(process.pid) for process in kea.net.processes), ' '.join(namespaces),
             'NOT deleted: %s' % ' '.join(sorted(left)) if left else 'deleted'))
    if running:
        print('still running: PIDs %s' % ' '.join(running), file=sys.stderr)


def start_dhcp(stack, lab, base, real):
    """The laptops get their leases; returns close_lid(), which takes carol off the network and answers
    which IPs a scanner would now find alive."""
    if not real:
        lab.write_leases('dhcp1', LAPTOPS)
        print('DHCP server dhcp1: Kea lease table %s with %d laptops (%s: no real DHCP)'
              % (lab.lease_file('dhcp1'), len(LAPTOPS), 'not root' if os.geteuid() else '--lease-file'))

        def lid_closed_in_the_simulator():
            print('\n(carol closed her lid: the simulator is told only alice and bob answer)')
            return [ip for ip, *dummy in LAPTOPS[:2]]
        return lid_closed_in_the_simulator
    kea = RealKea(lab, base / 'dhcp', clients=len(LAPTOPS))
    stack.callback(report_cleanup, kea)   # runs after the Kea lab closed (last in, first out)
    stack.enter_context(kea)
    print('DHCP server dhcp1: Kea (PID %d) with the roamscan hook (dhcp_hook role, prefix %s) in network namespace %s'
          % (kea.kea.pid, kea.prefix_dir, kea.net.server_ns))
    laptops = [kea.connect(index, hostname) for index, (dummy, dummy, dummy, hostname) in enumerate(LAPTOPS)]
    for laptop, (dummy, dummy, dummy, hostname) in zip(laptops, LAPTOPS):
        print('  %-13s udhcpc PID %-7d %s got %s' % (hostname, laptop.pid, laptop.mac, laptop.address()))
    ips = [laptop.address() for laptop in laptops]

    def close_lid():
        laptops[2].vanish()   # no DHCPRELEASE: Kea still has carol's lease, but nothing answers at her IP
        print('\n(carol closed her lid: her udhcpc was killed and her address removed, without a DHCP release)')
        return kea.answering(ips)
    return close_lid


def main():
    parser = argparse.ArgumentParser(description='Run the roamscan cycle twice on embedded defaults.')
    parser.add_argument('--dir', default=os.environ.get('ROAMSCAN_DEMO_DIR', os.path.join(os.environ.get('TMPDIR', '/tmp'), 'roamscan-demo')),
                        help='work directory, emptied first (default: $ROAMSCAN_DEMO_DIR or $TMPDIR/roamscan-demo)')
    parser.add_argument('--lease-file', action='store_true', help='play the DHCP server with a Kea lease file even as root')
    args = parser.parse_args()
    real = os.geteuid() == 0 and not args.lease_file
    started = time.monotonic()
    base = Path(args.dir).resolve()
    shutil.rmtree(base, ignore_errors=True)
    collections = base / 'collections' / 'ansible_collections' / 'roamscan'
    collections.mkdir(parents=True)
    os.chmod(base, 0o755)   # Kea runs as _kea and reads its configuration below
    (collections / 'qualys').symlink_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'QUALYS_'))}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(base / 'collections'), 'ANSIBLE_HOME': str(base / 'ansible-home'),
                'ANSIBLE_LOCAL_TEMP': str(base / 'ansible-home' / 'tmp')})
    lab = CycleLab(base / 'controller', env)
    print('controller: %s (ansible.cfg: jsonfile fact cache %s, no expiry)' % (lab.root, lab.cache_dir))
    stop_on_signals()
    try:
        with contextlib.ExitStack() as stack:
            sim = stack.enter_context(QualysSimulator())
            print('Qualys API: simulator at %s' % sim.url)
            close_lid = start_dhcp(stack, lab, base, real)

            run_cycle(lab, sim, 'cycle 1: the laptops are present and never scanned -> one scan')
            show_launch_calls(sim, 0)

            alive = close_lid()
            sim.state.set_alive(alive)
            sim.state.scan_action('*', 'process')
            print('(simulator: the scan ran and was processed; alive: %s)' % ' '.join(alive))
            run_cycle(lab, sim, 'cycle 2: confirm -> credit the laptops found alive; carol is due again')
            show_launch_calls(sim, 1)

            report = base / 'coverage.html'
            proc = lab.run(playbook='roamscan.qualys.coverage_report', extra_vars={'roamscan_report_path': str(report)})
            line = [text for text in proc.stdout.splitlines() if 'roamscan coverage' in text]
            print('\n=== coverage\n  %s' % (line[0][line[0].index('roamscan coverage'):].rstrip('"') if line else proc.stdout[-2000:]))
            print('  HTML page: %s' % report)
            show_inventory(lab)
    except CycleFailed as exc:
        print(exc, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print('\ninterrupted', file=sys.stderr)
        return 130
    print('\ndemo finished in %.0f s; files in %s' % (time.monotonic() - started, base))
    return 0


if __name__ == '__main__':
    sys.exit(main())
