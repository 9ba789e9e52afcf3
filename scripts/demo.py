#!/usr/bin/env python
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Driver of scripts/demo: one controller directory, the Qualys simulator on loopback, a DHCP server's
lease table with three laptops, two cycles and the coverage report."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from cycle_lab import CycleLab, summary_of  # noqa: E402  pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402  pylint: disable=wrong-import-position

LAPTOPS = [('10.77.0.100', '02:77:00:00:0a:01', 3600, 'alice-laptop'),
           ('10.77.0.101', '02:77:00:00:0b:02', 3600, 'bob-laptop'),
           ('10.77.0.102', '02:77:00:00:0c:03', 3600, 'carol-laptop')]


def show(title, summary):
    print('\n=== %s' % title)
    for key in ('known', 'present', 'overdue', 'pending', 'credited', 'launched', 'launched_targets', 'held'):
        print('  %-17s %s' % (key, json.dumps(summary[key])))


def main():
    parser = argparse.ArgumentParser(description='Run the roamscan cycle twice on embedded defaults.')
    parser.add_argument('--dir', default=os.environ.get('ROAMSCAN_DEMO_DIR', os.path.join(os.environ.get('TMPDIR', '/tmp'), 'roamscan-demo')))
    args = parser.parse_args()
    base = Path(args.dir).resolve()
    shutil.rmtree(base, ignore_errors=True)
    collections = base / 'collections' / 'ansible_collections' / 'roamscan'
    collections.mkdir(parents=True)
    (collections / 'qualys').symlink_to(ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'QUALYS_'))}
    env.update({'ANSIBLE_COLLECTIONS_PATH': str(base / 'collections'), 'ANSIBLE_HOME': str(base / 'ansible-home'),
                'ANSIBLE_LOCAL_TEMP': str(base / 'ansible-home' / 'tmp')})
    lab = CycleLab(base / 'controller', env)
    lab.write_leases('dhcp1', LAPTOPS)
    print('controller: %s (ansible.cfg: jsonfile fact cache %s, no expiry)' % (lab.root, lab.cache_dir))
    print('DHCP server dhcp1: Kea lease table %s with %d laptops' % (lab.lease_file('dhcp1'), len(LAPTOPS)))
    with QualysSimulator() as sim:
        print('Qualys API: simulator at %s' % sim.url)
        first = lab.run(sim)
        show('cycle 1: the laptops are present and never scanned -> one scan', summary_of(first))
        calls = [c for c in sim.state.calls if c['params'].get('action') == 'launch']
        print('  Qualys launch calls: %d, ip=%s' % (len(calls), calls[0]['params']['ip'] if calls else '-'))
        sim.state.set_alive([ip for ip, *dummy in LAPTOPS[:2]])
        sim.state.scan_action('*', 'process')
        print('\n(simulator: the scan ran; alice and bob answered, carol had closed her lid)')
        second = lab.run(sim)
        show('cycle 2: confirm -> credit the laptops found alive; carol is due again', summary_of(second))
        report = base / 'coverage.html'
        proc = lab.run(playbook='roamscan.qualys.coverage_report', extra_vars={'roamscan_report_path': str(report)})
        line = [text for text in proc.stdout.splitlines() if 'roamscan coverage' in text]
        print('\n=== coverage\n  %s' % (line[0][line[0].index('roamscan coverage'):].rstrip('"') if line else proc.stdout[-2000:]))
    records, groups = lab.inventory()
    print('\n=== inventory plugin roamscan.qualys.laptops (ansible-inventory -i %s --graph)' % (lab.root / 'roamscan.laptops.yml'))
    for group in ('roaming_clients', 'roaming_present', 'roaming_overdue', 'roaming_pending'):
        print('  %-16s %s' % (group, ' '.join(sorted(groups.get(group, ())))))
    for host in sorted(records):
        record = records[host]
        pending = (record['pending'] or {}).get('scan_ref')
        print('  %s %-13s last_scanned=%s pending=%s' % (host, record['ip'], record['last_scanned'], pending))
    return 0


if __name__ == '__main__':
    sys.exit(main())
