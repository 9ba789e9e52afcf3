# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cycle killed (SIGKILL of ansible-playbook and its workers) around collect and acknowledge, the two stages
that touch the DHCP server, with the real parts: a real Kea carrying the roamscan hook (deployed by the dhcp_hook
role) in a network namespace, real busybox udhcpc laptops, presence_events and lease_events running inside the
server namespace on the spool the hook writes. Then cycles until quiet, the scan finishing between two of them
(alive: what answers a ping on the lab network). Checked as a user would: one scan, credited by what it found,
the released laptop's events remembered, every spooled line acknowledged in the end, the resumed run green.

The other kill points, against lease files written by the test: tests/functional/test_scan_cycle_crash.py.
"""
from __future__ import annotations

import itertools

import pytest

from cycle_interrupt import KILL_POINTS, run_until_quiet
from cycle_lab import CycleLab, launch_call_ips, launch_calls, real_kea_lab

pytestmark = [pytest.mark.root, pytest.mark.slow]
POINTS = ['before-collect', 'after-collect-before-remember', 'after-record-before-acknowledge', 'after-acknowledge-before-summary']
RUNS = itertools.count()


@pytest.fixture(scope='module', name='kea')
def kea_fixture(ansible_env):
    """One real Kea with the hook and two laptops' namespaces for every kill point; each test has its own controller."""
    with real_kea_lab(ansible_env, 'crash-kea-', 2) as kea:
        yield kea


@pytest.fixture(name='controller')
def controller_fixture(kea, tmp_path, ansible_env):
    """A fresh controller (its own store) of the shared Kea; the spool on the server outlives controllers."""
    lab = CycleLab(tmp_path / 'controller', ansible_env)
    lab.set_server_vars('dhcp1', **kea.lab.server_vars['dhcp1'])
    return lab


def host(mac):
    return 'mac-' + mac.replace(':', '')


@pytest.mark.parametrize('point', POINTS)
def test_cycle_killed_around_the_dhcp_server_loses_no_event_and_scans_once(kea, controller, qualys_sim, point):
    run = next(RUNS)
    staying = kea.connect(0, 'laptop-stays', name='udhcpc-0-%d' % run)
    try:
        leaving = kea.connect(1, 'laptop-leaves', name='udhcpc-1-%d' % run)
        # the hook spools the leaving laptop's lease and its release; the cycle has not read either
        leaving.release()
        leaving.wait_for('deconfig', count=2)
        leaving.stop()
        assert controller.unacknowledged('dhcp1'), 'the hook spooled nothing'

        controller.crash(qualys_sim, KILL_POINTS[point])
        assert controller.expire_lease()

        def finish_scans():
            qualys_sim.state.set_alive(kea.answering([staying.address()]))
            qualys_sim.state.scan_action('*', 'process')

        summaries = run_until_quiet(controller, qualys_sim, finish_scans, point)
        assert summaries[0]['resumed']['after']['pid'] and summaries[0]['dhcp_servers_reported'] == ['dhcp1']
        assert all(summary['acknowledged'] == ['dhcp1'] for summary in summaries)

        # one scan, of the laptop that stayed; the released one is never scanned
        assert [launch_call_ips(call) for call in launch_calls(qualys_sim)] == [[staying.address()]]
        assert len(qualys_sim.state.scans) == 1
        ref = qualys_sim.state.scans[0]['ref']
        assert [mac for summary in summaries for mac in summary['credited']] == [staying.mac]
        records, groups = controller.inventory()
        assert records[host(staying.mac)]['last_scan_ref'] == ref and records[host(staying.mac)]['pending'] is None
        # the leaving laptop's lease and release are remembered; nothing is left in the spool
        gone = records[host(leaving.mac)]
        assert gone['lease_state'] == 'released' and gone['last_scanned'] is None and gone['ip_history']
        assert controller.unacknowledged('dhcp1') == []
        assert not groups.get('roaming_pending')
    finally:
        staying.release()
        staying.wait_for('deconfig', count=2)
        staying.stop()
