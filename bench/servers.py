# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Wall time of one scan cycle (playbook roamscan.qualys.scan_overdue) over 1, 10 and 50 DHCP servers, measured in
the same run, with the same number of present laptops on every server (so the work grows with the server count)
and the ratio against the one-server cycle next to the server count itself (linear growth).

    python bench/servers.py [--servers 1,10,50] [--laptops-per-server 10] [--forks 10] [--cycles 2]

Each "DHCP server" is a local-connection inventory host with its own Kea lease file and hook spool (a first cycle
reads the spool's lease events and the table, launches one scan of everyone; the second is the steady state:
the same laptops present, their scans pending). jsonfile store; a Qualys simulator on 127.0.0.1.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from cycle_lab import CycleLab, launch_calls, summary_of  # noqa: E402  pylint: disable=wrong-import-position
from qualys_sim import QualysSimulator  # noqa: E402  pylint: disable=wrong-import-position

sys.path.insert(0, str(ROOT / 'bench'))
from cycle import environment  # noqa: E402  pylint: disable=wrong-import-position


def fleet(servers, per_server):
    """``{server: [(ip, mac)]}``: ``per_server`` present laptops on each server, each on its own /24."""
    return {server: [('10.%d.%d.%d' % (100 + index // 200, index % 200, 10 + laptop),
                      '02:5e:%02x:%02x:00:%02x' % (index >> 8, index & 255, laptop)) for laptop in range(per_server)]
            for index, server in enumerate(servers)}


def spool_line(mac, ip):
    """One rs1 lease record as a hook writes it (no boot clock: the record is dated when it is read)."""
    return 'rs1 - - 0 kea lease %s %s - - .\n' % (mac, ip)


def cycle_times(base, count, per_server, forks, cycles, sim):
    servers = ['dhcp%02d' % number for number in range(1, count + 1)]
    lab = CycleLab(base, dict(environment(base.parent / ('env-%d' % count)), ANSIBLE_FORKS=str(forks)), servers=servers)
    laptops = fleet(servers, per_server)
    for server, present in laptops.items():
        lab.write_leases(server, present)
        for ip, mac in present:
            lab.append_spool(server, spool_line(mac, ip))
    sim.state.reset()
    times = []
    for number in range(cycles):
        start = time.monotonic()
        proc = lab.run(sim, extra_vars={'roamscan_max_hosts_per_cycle': count * per_server, 'roamscan_use_qualys_host_list': False})
        times.append(time.monotonic() - start)
        if proc.returncode != 0:
            raise SystemExit('cycle %d over %d servers failed:\n%s' % (number + 1, count, (proc.stdout + proc.stderr)[-4000:]))
        summary = summary_of(proc)
        if number == 0 and len(summary['launched_targets']) != count * per_server:
            raise SystemExit('expected %d targets, got %d' % (count * per_server, len(summary['launched_targets'])))
    if len(launch_calls(sim)) != 1:
        raise SystemExit('expected exactly one launch call over %d cycles' % cycles)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--servers', default='1,10,50')
    parser.add_argument('--laptops-per-server', type=int, default=10)
    parser.add_argument('--forks', type=int, default=10)
    parser.add_argument('--cycles', type=int, default=2)
    args = parser.parse_args()
    counts = [int(item) for item in args.servers.split(',')]
    results = {}
    with tempfile.TemporaryDirectory(prefix='roamscan-bench-servers-') as tmp, QualysSimulator() as sim:
        for count in counts:
            results[count] = cycle_times(Path(tmp) / ('servers-%d' % count), count, args.laptops_per_server, args.forks,
                                         args.cycles, sim)
            print('servers=%3d laptops=%4d forks=%d cycles: %s' % (
                count, count * args.laptops_per_server, args.forks, ', '.join('%.2fs' % value for value in results[count])), flush=True)
    smallest = min(counts)
    print('\nsame-run ratios against %d server(s) (linear growth would be the server ratio):' % smallest)
    for count in counts:
        ratios = ['x%.2f' % (value / base) for value, base in zip(results[count], results[smallest])]
        print('  %3d servers (x%.0f): cycle %s' % (count, count / smallest, ', '.join(ratios)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
