# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A DHCP server that hangs delays the others' laptops no longer than roamscan_presence_timeout: three local DHCP
servers, one of which starts every module ten minutes late (its Python is a wrapper that sleeps first). The cycle
launches the other two servers' laptops, reports the slow one as not reported and leaves its spool unacknowledged,
so its laptop is there for the next cycle. Real ansible-playbook; the Qualys simulator on 127.0.0.1."""
from __future__ import annotations

import os
import signal

import pytest

from cycle_lab import CycleLab, launch_calls, launch_call_ips, summary_of

LAPTOPS = {'dhcp1': ('10.77.0.101', '02:77:00:00:0a:01'), 'dhcp2': ('10.77.1.102', '02:77:00:00:0b:02'),
           'dhcp3': ('10.77.2.103', '02:77:00:00:0c:03')}


@pytest.mark.slow
def test_a_hanging_dhcp_server_delays_the_others_only_up_to_the_timeout(tmp_path, ansible_env, qualys_sim):
    lab = CycleLab(tmp_path / 'controller', ansible_env, servers=tuple(LAPTOPS))
    for server, (ip, mac) in LAPTOPS.items():
        lab.write_leases(server, [(ip, mac)])
        lab.append_spool(server, 'rs1 - - 0 kea lease %s %s - - .\n' % (mac, ip))
    hanging = tmp_path / 'python-after-ten-minutes'
    started = tmp_path / 'hanging-pids'
    hanging.write_text('#!/bin/sh\nsleep 600 &\necho $$ $! >> %s\nwait\nexec %s "$@"\n' % (started, lab.python))
    os.chmod(hanging, 0o755)
    lab.set_server_vars('dhcp2', ansible_python_interpreter=str(hanging))

    proc = lab.run(qualys_sim, extra_vars={'roamscan_presence_timeout': 10}, timeout=300)   # without the timeout: > 10 min
    summary = summary_of(proc)
    assert proc.returncode != 0 and 'dhcp2' in summary['dhcp_servers_not_reported']   # said, and the run is marked
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1 and sorted(launch_call_ips(calls[0])) == ['10.77.0.101', '10.77.2.103']
    spool = lab.spool_dir('dhcp2')
    assert LAPTOPS['dhcp2'][1] in (spool / 'current').read_text()          # nothing of the slow server's spool dropped
    assert sorted(path.name for path in spool.iterdir()) == ['current']     # ... nor rotated or acknowledged

    stop_processes(started)
    lab.set_server_vars('dhcp2', ansible_python_interpreter=lab.python)   # it answers again: its laptop comes in
    qualys_sim.state.scan_action('*', 'process')
    again = lab.run(qualys_sim, extra_vars={'roamscan_presence_timeout': 10}, timeout=300)
    assert again.returncode == 0, again.stdout[-4000:]
    assert sorted(summary_of(again)['credited']) == [LAPTOPS['dhcp1'][1], LAPTOPS['dhcp3'][1]]
    assert launch_call_ips(launch_calls(qualys_sim)[-1]) == ['10.77.1.102']


def stop_processes(pid_file):
    """SIGKILL the processes the hanging wrapper wrote down (Ansible's timeout ends the task, not a local module)."""
    for pid in pid_file.read_text().split():
        try:
            os.kill(int(pid), signal.SIGKILL)
        except ProcessLookupError:
            pass
