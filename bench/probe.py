# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The pre-launch liveness probe's cost: time and packets for 50 and 500 targets, against the same cycle
without the probe, measured in the same run (root: network namespaces).

For each size a laptop segment is built in two namespaces (tests/support/probe_segment.py: one
address and MAC per laptop, every tenth laptop leased but gone), the DHCP server "dhcp1" of a
CycleLab runs its modules inside the probe-host namespace, its Kea lease file lists every laptop,
and the Qualys simulator runs on 127.0.0.1. Printed per size:
  cycle_off   the whole cycle (roamscan.qualys.scan_overdue) without the probe
  cycle_on    the same cycle on fresh records with roamscan_liveness_probe: true
  probe       the module's own time (liveness_probe elapsed) and the ARP packets it sent
and the ratios cycle_on/cycle_off and probe/cycle_off.

    sudo python bench/probe.py [--sizes 50,500]

Measured here (2 shared cores, noisy):
  targets=  50 gone=  5 cycle_off=  9.00s cycle_on= 11.99s probe= 1.09s packets={'arp': 55}   on/off=1.33 probe/off=0.121
  targets= 500 gone= 50 cycle_off= 17.00s cycle_on= 16.48s probe= 1.58s packets={'arp': 550}  on/off=0.97 probe/off=0.093
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from cycle_lab import CycleLab, launch_call_ips, launch_calls, summary_of  # noqa: E402  pylint: disable=wrong-import-position
from netns import netns_python  # noqa: E402  pylint: disable=wrong-import-position
from probe_segment import NETWORK, ProbeSegment  # noqa: E402  pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, str(ROOT / 'bench'))
from cycle import environment  # noqa: E402  pylint: disable=wrong-import-position


def cycle_lab(base, segment, probe):
    lab = CycleLab(base, environment(base))
    wrapper = netns_python(base / 'python-in-probe-ns', segment.probe_ns, lab.python)
    lab.set_server_vars('dhcp1', roamscan_probe_interface=segment.interface, roamscan_probe_become=False,
                        ansible_python_interpreter=str(wrapper))
    lab.write_leases('dhcp1', [(ip, mac, 3600) for ip, mac in segment.laptops])
    return lab, {'roamscan_max_hosts_per_cycle': len(segment.laptops), 'roamscan_use_qualys_host_list': False,
                 'roamscan_liveness_probe': probe, 'roamscan_probe_routes': {str(NETWORK): 'dhcp1'}}


def timed_cycle(lab, sim, extra_vars):
    sim.state.reset()
    start = time.monotonic()
    proc = lab.run(sim, extra_vars=extra_vars)
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        raise SystemExit('cycle failed (rc=%s):\n%s' % (proc.returncode, (proc.stdout + proc.stderr)[-4000:]))
    calls = launch_calls(sim)
    return elapsed, summary_of(proc), sorted(ip for call in calls for ip in launch_call_ips(call))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default='50,500')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='roamscan-bench-probe-') as tmp, QualysSimulator() as sim:
        for size in [int(item) for item in args.sizes.split(',')]:
            with ProbeSegment(size) as segment:
                off_lab, off_vars = cycle_lab(Path(tmp) / ('off-%d' % size), segment, False)
                cycle_off, dummy, launched_off = timed_cycle(off_lab, sim, off_vars)
                on_lab, on_vars = cycle_lab(Path(tmp) / ('on-%d' % size), segment, True)
                cycle_on, summary, launched_on = timed_cycle(on_lab, sim, on_vars)
                probe = summary['liveness_probe']
                dropped = [item for item in summary['dropped_at_launch'] if item['reason'] == 'no_reply']
                assert len(launched_off) == size and len(launched_on) == size - len(segment.absent), 'unexpected launch'
                assert {item['ip'] for item in dropped} == segment.absent, 'the probe must drop exactly the gone laptops'
                print('targets=%4d gone=%3d cycle_off=%6.2fs cycle_on=%6.2fs probe=%5.2fs packets=%s  '
                      'ratio(cycle_on/cycle_off)=%.2f ratio(probe/cycle_off)=%.3f'
                      % (size, len(segment.absent), cycle_off, cycle_on, probe['elapsed'], probe['packets_sent'],
                         cycle_on / cycle_off, probe['elapsed'] / cycle_off))
                shutil.rmtree(Path(tmp) / ('off-%d' % size), ignore_errors=True)


if __name__ == '__main__':
    main()
