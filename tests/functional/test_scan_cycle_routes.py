# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scanner routes (roamscan_scanner_routes): one launch per route group, each with the scanner that
reaches its network, and a cycle killed between two launches resumes both without scanning the first
group twice. Real ansible-playbook against the simulator; checked through the simulator's launch calls
and the laptop records via the inventory plugin."""
from __future__ import annotations

import re

import pytest

from cycle_interrupt import CYCLE_STAGES
from cycle_lab import CycleLab, launch_call_ips, launch_calls, summary_of

OFFICE = [('10.77.0.100', '02:77:00:00:0a:01'), ('10.77.0.101', '02:77:00:00:0b:02')]
VPN = [('10.91.0.10', '02:77:00:00:0c:03')]
ROUTES = {'roamscan_scanner_routes': {'10.91.0.0/24': 'laptop_scanner_2'}}
LAUNCH_TASK = dict(CYCLE_STAGES)['launch']


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def launches(sim):
    return sorted((call['params']['iscanner_name'], launch_call_ips(call), call['params']['scan_title'])
                  for call in launch_calls(sim))


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


def test_check_mode_says_what_each_route_group_would_launch(lab, qualys_sim):
    lab.write_leases('dhcp1', OFFICE + VPN)
    checked = lab.run(qualys_sim, extra_vars=ROUTES, options=('--check',))
    assert checked.returncode == 0, checked.stdout[-4000:]
    sentence = next(line for line in summary_of(checked)['check_mode'] if line.startswith('would launch'))
    office, vpn = re.fullmatch(r'would launch 2 scans: of 10\.77\.0\.100-10\.77\.0\.101 \((.+)\); of 10\.91\.0\.10 \((.+)\)',
                               sentence).groups()
    assert vpn == office + ' via scanner laptop_scanner_2'
    assert launch_calls(qualys_sim) == [] and qualys_sim.state.scans == []


def test_a_cycle_killed_between_the_two_launches_resumes_without_a_second_scan_of_the_first_group(lab, qualys_sim):
    lab.write_leases('dhcp1', OFFICE + VPN)
    # SIGKILL right after the first group's launch answered, before the second group's launch is sent
    lab.crash(qualys_sim, 'after-item:' + LAUNCH_TASK, extra_vars=ROUTES)
    assert len(launch_calls(qualys_sim)) == 1
    assert len(qualys_sim.state.scans) == 1
    first = qualys_sim.state.scans[0]
    assert set(pending_refs(lab).values()) == {None}, 'killed before any launch was recorded'
    assert lab.expire_lease()

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
