# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scanner routes (roamscan_scanner_routes): one launch per route group, each with the scanner that
reaches its network, and a cycle killed between two launches resumes both without scanning the first
group twice. Real ansible-playbook against the simulator; checked through the simulator's launch calls
and the laptop records via the inventory plugin."""
from __future__ import annotations

import os
import signal

import pytest

from cycle_lab import CycleLab, launch_call_ips, launch_calls
from test_scan_cycle_resume import wait_for

OFFICE = [('10.77.0.100', '02:77:00:00:0a:01'), ('10.77.0.101', '02:77:00:00:0b:02')]
VPN = [('10.91.0.10', '02:77:00:00:0c:03')]
ROUTES = {'roamscan_scanner_routes': {'10.91.0.0/24': 'laptop_scanner_2'}}


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def launches(sim):
    return sorted((call['params']['iscanner_name'], launch_call_ips(call), call['params']['scan_title'])
                  for call in launch_calls(sim))


def list_calls(sim):
    return sum(1 for call in sim.state.calls if call['api'] == 'scan:list')


def pending_refs(lab):
    records, dummy = lab.inventory()
    return {record['ip']: record['pending'] and record['pending']['scan_ref'] for record in records.values()}


def test_two_route_groups_give_two_launches_each_with_its_scanner(lab, qualys_sim):
    lab.write_leases('dhcp1', OFFICE + VPN)
    proc = lab.run(qualys_sim, extra_vars=ROUTES)
    assert proc.returncode == 0, proc.stdout[-4000:]
    (office_scanner, office_ips, office_title), (vpn_scanner, vpn_ips, vpn_title) = launches(qualys_sim)
    assert (office_scanner, office_ips) == ('laptop_scanner_1', ['10.77.0.100', '10.77.0.101'])
    assert (vpn_scanner, vpn_ips) == ('laptop_scanner_2', ['10.91.0.10'])
    assert vpn_title == office_title + ' via scanner laptop_scanner_2'
    refs = pending_refs(lab)
    by_title = {scan['title']: scan['ref'] for scan in qualys_sim.state.scans}
    assert refs == {'10.77.0.100': by_title[office_title], '10.77.0.101': by_title[office_title],
                    '10.91.0.10': by_title[vpn_title]}


def test_one_route_group_is_still_one_launch(lab, qualys_sim):
    lab.write_leases('dhcp1', VPN + [('10.91.0.11', '02:77:00:00:0d:04')])
    proc = lab.run(qualys_sim, extra_vars=ROUTES)
    assert proc.returncode == 0, proc.stdout[-4000:]
    assert [(scanner, ips) for scanner, ips, dummy in launches(qualys_sim)] == [('laptop_scanner_2', ['10.91.0.10', '10.91.0.11'])]


def test_a_cycle_killed_between_the_two_launches_resumes_without_a_second_scan_of_the_first_group(lab, qualys_sim):
    lab.write_leases('dhcp1', OFFICE + VPN)
    # each launch first looks for an active scan of its title (scan:list): the first group's lookup and launch
    # are answered, the second group's lookup hangs until the kill, so its launch is never sent
    qualys_sim.state.add_fault('slow', api='scan:list', count=1, seconds=0)
    qualys_sim.state.add_fault('slow', api='scan:list', count=1, seconds=60)
    proc = lab.spawn(qualys_sim, extra_vars=dict(ROUTES, roamscan_cycle_lock_seconds=15))
    wait_for(lambda: list_calls(qualys_sim) >= 2 or proc.poll() is not None, 'the second launch')
    assert proc.poll() is None, 'the cycle ended before its second launch:\n%s' % proc.communicate()[0][-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(launch_calls(qualys_sim)) == 1
    assert len(qualys_sim.state.scans) == 1
    first = qualys_sim.state.scans[0]
    assert set(pending_refs(lab).values()) == {None}, 'killed before any launch was recorded'
    lab.wait_until_lease_expires()

    again = lab.run(qualys_sim, extra_vars=ROUTES)
    assert again.returncode == 0, again.stdout[-4000:]
    scans = qualys_sim.state.scans
    titles = sorted(scan['title'] for scan in scans)
    assert len(scans) == len(set(titles)) == 2 and first['title'] in titles   # no second scan of the first group
    assert len(launch_calls(qualys_sim)) == 2
    by_title = {scan['title']: scan['ref'] for scan in scans}
    refs = pending_refs(lab)
    assert refs['10.77.0.100'] == refs['10.77.0.101'] == first['ref']
    assert refs['10.91.0.10'] == by_title[first['title'] + ' via scanner laptop_scanner_2']
