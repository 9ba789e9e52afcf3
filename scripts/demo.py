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
import datetime
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

from cycle_lab import SCAN_SETTINGS, CycleLab, RealKea, launch_call_ips, launch_calls, summary_of  # noqa: E402  pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402  pylint: disable=wrong-import-position

LAPTOPS = [('10.77.0.100', '02:77:00:00:0a:01', 3600, 'alice-laptop'),
           ('10.77.0.101', '02:77:00:00:0b:02', 3600, 'bob-laptop'),
           ('10.77.0.102', '02:77:00:00:0c:03', 3600, 'carol-laptop')]
RESCAN_DAYS = 30        # the cycle's default roamscan_rescan_days
MARKER = '.roamscan-demo'   # written into every work directory the demo makes; only such a directory is emptied


class CycleFailed(Exception):
    pass


class NotOurDirectory(Exception):
    pass


class Names:
    """Who is who: the laptops' host names by MAC and by IP, as the demo's DHCP server handed them out."""

    def __init__(self):
        self.by_mac, self.by_ip = {}, {}

    def add(self, hostname, mac, ip):
        self.by_mac[mac], self.by_ip[ip] = hostname, hostname

    def mac(self, mac):
        return '%s (%s)' % (self.by_mac.get(mac, 'unknown laptop'), mac)

    def ip(self, ip):
        return '%s (%s)' % (self.by_ip.get(ip, 'unknown laptop'), ip)


def plain_reason(reason):
    """A reason in the words of a security engineer, not the cycle's internal keys."""
    reason = (reason or 'no reason given').replace('not scanned: not_alive', 'the scan did not find it alive')
    return reason.replace('_', ' ')


def listing(items, none='none'):
    return ', '.join(items) if items else none


def step(text):
    """A progress line: printed before the slow part starts; finish it with done()."""
    print('  %s ...' % text, end='', flush=True)
    return time.monotonic()


def done(started, text='done'):
    print(' %s (%.0f s)' % (text, time.monotonic() - started), flush=True)


def show(summary, names):
    """The cycle's summary task in plain words."""
    not_credited = ['%s: %s' % (names.mac(entry.get('mac')), plain_reason(entry.get('reason')))
                    for entry in summary.get('not_credited') or []]
    dropped = ['%s: %s' % (names.mac(entry.get('mac')), plain_reason(entry.get('reason'))) for entry in summary.get('dropped_at_launch') or []]
    print('  laptops in the scan history:   %d' % summary['known'])
    print('  on the network now:            %d' % summary['present'])
    print('  overdue (no scan in %d days):  %d' % (RESCAN_DAYS, summary['overdue']))
    print('  credited as scanned:           %s' % listing([names.mac(mac) for mac in summary['credited']]))
    if not_credited:
        print('  not credited:                  %s' % '; '.join(not_credited))
    print('  scan launched:                 %s' % (
        '%s for %s' % (', '.join(summary['launched']), listing([names.ip(ip) for ip in summary['launched_targets']]))
        if summary['launched'] else 'none'))
    if dropped:
        print('  left out at launch:            %s' % '; '.join(dropped))
    print('  waiting for a scan result:     %d' % summary['pending'])
    print('  held back:                     %s' % (summary.get('held') or 'nothing'))


def show_launch_calls(sim, seen):
    calls = launch_calls(sim)
    for call in calls[seen:]:
        count = len(launch_call_ips(call))
        print('  Qualys launch call: ip=%s (%d IP%s), scan title "%s"'
              % (call['params']['ip'], count, '' if count == 1 else 's', call['params'].get('scan_title')))
    print('  Qualys launch calls in total: %d' % len(calls))


def covered_until(last_scanned):
    scanned = datetime.datetime.strptime(last_scanned, '%Y-%m-%dT%H:%M:%SZ')
    return (scanned + datetime.timedelta(days=RESCAN_DAYS)).strftime('%Y-%m-%d %H:%M UTC')


def show_inventory(lab, names):
    records, groups = lab.inventory()
    print('\n=== the laptops as the roamscan.qualys.laptops inventory plugin lists them (%s)'
          % (lab.root / 'roamscan.laptops.yml'))
    for group in ('roaming_clients', 'roaming_present', 'roaming_overdue', 'roaming_pending'):
        print('  group %-16s %s' % (group, listing(sorted(groups.get(group, ())))))
    for host in sorted(records):
        record = records[host]
        pending = (record['pending'] or {}).get('scan_ref')
        print('  %s  %-13s %s  %-12s last scanned: %s; %s'
              % (host, record['hostname'], record['mac'], record['ip'], record['last_scanned'] or 'never',
                 'waiting for scan %s' % pending if pending else 'no scan pending'))
    return records


def conclusion(records, second, names):
    """Who is covered until when, who was queued again and why."""
    covered = ['%s until %s' % (names.mac(record['mac']), covered_until(record['last_scanned']))
               for record in sorted(records.values(), key=lambda record: record['mac']) if record['last_scanned']]
    requeued = []
    for entry in second.get('not_credited') or []:
        reason = plain_reason(entry.get('reason'))
        requeued.append('%s was not credited (%s) and, still on the network and overdue, was queued again in scan %s'
                        % (names.mac(entry.get('mac')), reason, listing(second['launched'])))
    print('\n=== what this means')
    print('  Covered (a finished scan found them while they held their IP; good for %d days): %s.'
          % (RESCAN_DAYS, listing(covered)))
    print('  %s.' % ('; '.join(requeued) if requeued else 'Nobody was queued again'))
    print('  A laptop counts as scanned only when the scan has finished and found it alive at the IP it held.')


def by_hand(base, lab, venv_bin, real):
    """The commands that do what the demo did, against a simulator the user starts (the README's
    "Try it against the simulator", with this run's paths)."""
    support = ROOT / 'tests' / 'support'
    print('\n=== the same by hand (README: "Try it against the simulator")')
    if real:
        print('  (the namespaces of this run are gone: run scripts/demo --lease-file first, it leaves the lease table behind)')
    print('  PYTHONPATH=%s python3 -m qualys_sim --port 8443 --fast &   # the Qualys API simulator' % support)
    print('  cd %s && rm -rf facts   # an empty scan history' % lab.root)
    print('  export PATH=%s:$PATH ANSIBLE_CONFIG=$PWD/ansible.cfg ANSIBLE_COLLECTIONS_PATH=%s' % (venv_bin, base / 'collections'))
    print('  export QUALYS_API_URL=http://127.0.0.1:8443 QUALYS_USERNAME=roamscan_api QUALYS_PASSWORD=sim-password')
    print("  settings='%s'" % json.dumps(SCAN_SETTINGS))
    print('  ansible-playbook roamscan.qualys.scan_overdue -e "$settings"   # launches one scan')
    print('  PYTHONPATH=%s python3 -m qualys_sim --port 8443 --advance 60   # or wait 40 s: finished and processed' % support)
    print('  ansible-playbook roamscan.qualys.scan_overdue -e "$settings"   # confirms: credits the laptops found alive')
    print('  ansible-playbook roamscan.qualys.coverage_report -e roamscan_report_path=$PWD/coverage.html')
    print('  ansible-inventory -i roamscan.laptops.yml --graph')


def run_cycle(lab, sim, title):
    print('\n=== %s' % title)
    started = step('running ansible-playbook roamscan.qualys.scan_overdue')
    proc = lab.run(sim)
    if proc.returncode != 0:
        print(' failed', flush=True)
        raise CycleFailed('%s failed (rc=%d):\n%s' % (title, proc.returncode, (proc.stdout + proc.stderr)[-6000:]))
    done(started)
    return summary_of(proc)


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


def start_dhcp(stack, lab, base, real, names):
    """The laptops get their leases; returns close_lid(), which takes carol off the network and answers
    which IPs a scanner would now find alive."""
    if not real:
        lab.write_leases('dhcp1', LAPTOPS)
        print('  DHCP server dhcp1: a Kea lease table (%s: no real DHCP) at %s'
              % ('not root' if os.geteuid() else '--lease-file', lab.lease_file('dhcp1')))
        for ip, mac, dummy, hostname in LAPTOPS:
            names.add(hostname, mac, ip)
            print('    %-13s %s holds %s' % (hostname, mac, ip))

        def lid_closed_in_the_simulator():
            print('\n(carol closed her lid: the simulator is told only alice and bob answer)')
            return [ip for ip, *dummy in LAPTOPS[:2]]
        return lid_closed_in_the_simulator
    kea = RealKea(lab, base / 'dhcp', clients=len(LAPTOPS))
    stack.callback(report_cleanup, kea)   # runs after the Kea lab closed (last in, first out)
    started = step('starting network namespaces and deploying the roamscan hook into Kea with the dhcp_hook role (ansible-playbook)')
    stack.enter_context(kea)
    done(started)
    print('  DHCP server dhcp1: Kea (PID %d) with the roamscan hook (dhcp_hook role, prefix %s) in network namespace %s'
          % (kea.kea.pid, kea.prefix_dir, kea.net.server_ns))
    started = step('three laptops ask for leases (busybox udhcpc)')
    laptops = [kea.connect(index, hostname) for index, (dummy, dummy, dummy, hostname) in enumerate(LAPTOPS)]
    done(started)
    for laptop, (dummy, dummy, dummy, hostname) in zip(laptops, LAPTOPS):
        names.add(hostname, laptop.mac, laptop.address())
        print('    %-13s udhcpc PID %-7d %s got %s' % (hostname, laptop.pid, laptop.mac, laptop.address()))
    ips = [laptop.address() for laptop in laptops]

    def close_lid():
        laptops[2].vanish()   # no DHCPRELEASE: Kea still has carol's lease, but nothing answers at her IP
        print('\n(carol closed her lid: her udhcpc was killed and her address removed, without a DHCP release)')
        return kea.answering(ips)
    return close_lid


def prepare(base):
    """An empty work directory the demo may clean next time; a directory holding anything the demo did
    not make is refused, untouched."""
    if base.exists() and not base.is_dir():
        raise NotOurDirectory('%s is not a directory' % base)
    if base.is_dir() and any(base.iterdir()):
        if not (base / MARKER).is_file():
            raise NotOurDirectory('%s is not empty and was not made by the demo: nothing was deleted; '
                                  'choose a new or empty directory with --dir' % base)
        for entry in base.iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
    base.mkdir(parents=True, exist_ok=True)
    (base / MARKER).write_text('made by roamscan scripts/demo: it empties this directory when it runs here again\n')


def main():
    parser = argparse.ArgumentParser(description='Run the roamscan cycle twice on embedded defaults.')
    parser.add_argument('--dir', default=os.environ.get('ROAMSCAN_DEMO_DIR', os.path.join(os.environ.get('TMPDIR', '/tmp'), 'roamscan-demo')),
                        help='work directory: a new or empty one, or one an earlier demo made (emptied first); '
                             'default $ROAMSCAN_DEMO_DIR or $TMPDIR/roamscan-demo')
    parser.add_argument('--lease-file', action='store_true', help='play the DHCP server with a Kea lease file even as root')
    args = parser.parse_args()
    real = os.geteuid() == 0 and not args.lease_file
    started = time.monotonic()
    base = Path(args.dir).resolve()
    try:
        prepare(base)
    except NotOurDirectory as exc:
        print('demo: %s' % exc, file=sys.stderr)
        return 2
    collections = base / 'collections' / 'ansible_collections' / 'roamscan'
    collections.mkdir(parents=True)
    os.chmod(base, 0o755)   # Kea runs as _kea and reads its configuration below
    (collections / 'qualys').symlink_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'QUALYS_'))}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(base / 'collections'), 'ANSIBLE_HOME': str(base / 'ansible-home'),
                'ANSIBLE_LOCAL_TEMP': str(base / 'ansible-home' / 'tmp')})
    lab = CycleLab(base / 'controller', env)
    names = Names()
    print('roamscan demo: the scan cycle twice, on %s (work directory %s)'
          % (subprocess.run([str(lab.venv_bin / 'ansible'), '--version'], capture_output=True, text=True,
                            check=False).stdout.split('\n', 1)[0], base))
    print('  controller: %s (ansible.cfg: scan history in a jsonfile fact cache at %s that never expires)'
          % (lab.root, lab.cache_dir))
    stop_on_signals()
    try:
        with contextlib.ExitStack() as stack:
            sim = stack.enter_context(QualysSimulator())
            print('  Qualys API: the bundled simulator at %s (user %s)' % (sim.url, sim.username))
            close_lid = start_dhcp(stack, lab, base, real, names)

            show(run_cycle(lab, sim, 'cycle 1: three laptops are on the network and were never scanned -> one scan for all'), names)
            show_launch_calls(sim, 0)

            alive = close_lid()
            sim.state.set_alive(alive)
            sim.state.scan_action('*', 'process')
            print('(the simulator finished and processed the scan; it found alive: %s)' % listing([names.ip(ip) for ip in alive]))
            second = run_cycle(lab, sim, 'cycle 2: confirm -> credit the laptops found alive; whoever was missed is queued again')
            show(second, names)
            show_launch_calls(sim, 1)

            print('\n=== coverage report')
            report = base / 'coverage.html'
            begun = step('running ansible-playbook roamscan.qualys.coverage_report')
            proc = lab.run(playbook='roamscan.qualys.coverage_report', extra_vars={'roamscan_report_path': str(report)})
            done(begun)
            line = [text for text in proc.stdout.splitlines() if 'roamscan coverage' in text]
            print('  %s' % (line[0][line[0].index('roamscan coverage'):].rstrip('"') if line else proc.stdout[-2000:]))
            print('  HTML page: %s' % report)
            records = show_inventory(lab, names)
            conclusion(records, second, names)
            by_hand(base, lab, lab.venv_bin, real)
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
