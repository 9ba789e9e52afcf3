# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan cycle (playbook roamscan.qualys.scan_overdue) with real ansible-playbook against the
Qualys simulator on loopback, DHCP servers played by local hosts whose Kea lease files and hook
spools this test writes, and the laptop records read back through the inventory plugin."""
from __future__ import annotations

import os
import signal
import time

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of, warnings_of

A, B, C = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'
HOST = {A: 'mac-027700000a01', B: 'mac-027700000b02', C: 'mac-027700000c03'}


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def launched_ips(call):
    return call['params']['ip']


def test_one_launch_for_present_overdue_laptops_then_credit_and_nothing_more(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B), ('10.77.0.102', C)])
    first = lab.run(qualys_sim)
    summary = summary_of(first)
    assert first.returncode == 0, first.stdout[-3000:]
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1
    assert launched_ips(calls[0]) == '10.77.0.100-10.77.0.102'
    assert sorted(summary['launched_targets']) == ['10.77.0.100', '10.77.0.101', '10.77.0.102']
    records, groups = lab.inventory()
    assert groups['roaming_pending'] == set(HOST.values())
    assert {r['pending']['scan_ref'] for r in records.values()} == set(summary['launched'])

    qualys_sim.state.scan_action('*', 'process')
    second = lab.run(qualys_sim)
    summary = summary_of(second)
    assert second.returncode == 0
    assert sorted(summary['credited']) == [A, B, C]
    assert summary['launched'] == [] and len(launch_calls(qualys_sim)) == 1
    records, groups = lab.inventory()
    assert all(r['last_scanned'] and r['pending'] is None for r in records.values())
    assert groups.get('roaming_overdue', set()) == set() and groups['roaming_present'] == set(HOST.values())

    third = lab.run(qualys_sim)
    assert summary_of(third)['launched'] == [] and len(launch_calls(qualys_sim)) == 1


def test_dead_host_stays_overdue_and_is_scanned_again(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    lab.run(qualys_sim)
    qualys_sim.state.set_alive(['10.77.0.101'])
    qualys_sim.state.scan_action('*', 'process')
    summary = summary_of(lab.run(qualys_sim))
    assert summary['credited'] == [B]
    assert [(item['mac'], item['reason']) for item in summary['not_credited']] == [(A, 'not scanned: not_alive')]
    assert summary['launched_targets'] == ['10.77.0.100']  # A is present and overdue again
    assert len(launch_calls(qualys_sim)) == 2


def test_ip_reuse_before_the_scan_never_credits_the_new_holder_as_the_old(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    lab.run(qualys_sim)
    # A leaves without a release reaching us; B gets A's IP; the scan then finds 10.77.0.100 alive (it is B)
    lab.write_leases('dhcp1', [('10.77.0.100', B)])
    qualys_sim.state.scan_action('*', 'process')
    summary = summary_of(lab.run(qualys_sim))
    records, groups = lab.inventory()
    assert summary['credited'] == []
    assert [item['mac'] for item in summary['not_credited']] == [A]
    assert records[HOST[A]]['last_scanned'] is None and HOST[A] in groups['roaming_overdue']
    assert records[HOST[B]]['last_scanned'] is None
    # B is a laptop of its own: present and never scanned, so it gets its own scan
    assert summary['launched_targets'] == ['10.77.0.100'] and records[HOST[B]]['pending']['scan_ref']


def test_ip_reassigned_just_before_launch_is_dropped_by_the_recheck(lab, qualys_sim):
    """The fresh lease read right before the launch drops a laptop whose IP changed hands since collection."""
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.102', C)])
    qualys_sim.state.add_fault('slow', api='host:list', count=1, seconds=3)  # the host-list lookup gives us a window
    proc = lab.spawn(qualys_sim)
    deadline = time.time() + 120
    while not any(call['api'] == 'host:list' for call in qualys_sim.state.calls) and time.time() < deadline:
        time.sleep(0.05)
    lab.write_leases('dhcp1', [('10.77.0.100', B), ('10.77.0.102', C)])   # A left, B got its IP meanwhile
    output, dummy = proc.communicate(timeout=300)
    summary = summary_of(output)
    assert [(item['mac'], item['ip']) for item in summary['dropped_at_launch']] == [(A, '10.77.0.100')]
    assert [call['params']['ip'] for call in launch_calls(qualys_sim)] == ['10.77.0.102']
    records, dummy = lab.inventory()
    assert records[HOST[A]]['pending'] is None and records[HOST[C]]['pending']['scan_ref']


def test_max_active_scans_holds_new_launches(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    lab.run(qualys_sim)
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    summary = summary_of(lab.run(qualys_sim))
    assert summary['launched'] == [] and 'max_active_scans=1' in summary['held']
    summary = summary_of(lab.run(qualys_sim, extra_vars={'roamscan_max_active_scans': 2}))
    assert summary['launched_targets'] == ['10.77.0.101']


def test_settings_from_inventory_group_vars_are_honoured(lab, qualys_sim):
    (lab.root / 'group_vars').mkdir()
    (lab.root / 'group_vars' / 'all.yml').write_text('roamscan_max_hosts_per_cycle: 1\nroamscan_scan_title_prefix: laptops\n')
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    summary = summary_of(lab.run(qualys_sim))
    assert len(summary['launched_targets']) == 1
    assert launch_calls(qualys_sim)[0]['params']['scan_title'].startswith('laptops ')


def test_killed_between_launch_and_record_makes_no_second_scan(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    qualys_sim.state.add_fault('slow', api='scan:launch', count=1, seconds=2)   # a slow answer gives time to kill
    proc = lab.spawn(qualys_sim, extra_vars={'roamscan_cycle_lock_seconds': 15})
    deadline = time.time() + 120
    while not qualys_sim.state.scans and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)      # Qualys has the scan; the playbook never saw the answer
    proc.wait()
    assert len(qualys_sim.state.scans) == 1
    records, dummy = lab.inventory()
    assert sorted(r['pending']['ip'] for r in records.values() if r['pending'] and r['pending']['scan_ref'] is None) == \
        ['10.77.0.100', '10.77.0.101'], 'not killed between launch and record'

    # the killed cycle still holds the store's lease: the next cycle says so and does nothing until it expires
    early = lab.run(qualys_sim)
    assert early.returncode == 0 and summary_of(early)['skipped'].startswith('skipped: another cycle is running on ')
    lab.wait_until_lease_expires()
    summary = summary_of(lab.run(qualys_sim))
    assert summary['skipped'] is None and len(qualys_sim.state.scans) == 1
    assert summary['launched'] == [qualys_sim.state.scans[0]['ref']]
    records, dummy = lab.inventory()
    assert {r['pending']['scan_ref'] for r in records.values()} == {qualys_sim.state.scans[0]['ref']}


def test_lost_launch_response_makes_no_second_scan(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    qualys_sim.state.add_fault('drop_response', api='scan:launch', count=1)
    first = summary_of(lab.run(qualys_sim))
    assert len(qualys_sim.state.scans) == 1 and first['launched'] == [qualys_sim.state.scans[0]['ref']]
    records, dummy = lab.inventory()
    assert records[HOST[A]]['pending']['scan_ref'] == qualys_sim.state.scans[0]['ref']
    second = summary_of(lab.run(qualys_sim))
    assert second['launched'] == [] and len(qualys_sim.state.scans) == 1


def test_corrupt_cache_entry_and_spool_line_are_reported_the_rest_proceeds(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    lab.run(qualys_sim, extra_vars={'roamscan_max_hosts_per_cycle': 1})
    corrupt_file = next(p for p in lab.cache_dir.iterdir() if p.name.endswith('roamscan-id-' + HOST[A]))
    corrupt_file.write_text('{"__payload__": "{\\"roamscan\\": {\\"schema\\": 1, \\"mac\\"')   # torn write
    lab.append_spool('dhcp1', 'rs1 garbage that is not a record\n')
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B), ('10.77.0.102', C)])
    proc = lab.run(qualys_sim, extra_vars={'roamscan_max_active_scans': 5})
    summary = summary_of(proc)
    assert proc.returncode == 0
    assert [item['host'] for item in summary['corrupt_cache_entries']] == ['roamscan-id-' + HOST[A]]
    assert any(HOST[A] in warning for warning in warnings_of(proc))
    assert summary['corrupt_spool_lines'] == {'dhcp1': {'count': 1, 'reasons': {'truncated': 1}}}
    assert any('dhcp1: presence_events skipped 1 corrupt spool line(s) (truncated: 1)' in warning for warning in warnings_of(proc))
    assert sorted(summary['launched_targets']) == ['10.77.0.101', '10.77.0.102']


@pytest.mark.parametrize('config, expected', [
    ({'cache': 'memory', 'cache_connection': None}, 'memory'),
    ({'cache': 'jsonfile', 'cache_timeout': None}, 'fact_caching_timeout = 0'),
])
def test_unsafe_fact_cache_stops_before_anything_happens(tmp_path, ansible_env, qualys_sim, config, expected):
    lab = CycleLab(tmp_path / 'lab', ansible_env, **config)
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    lab.append_spool('dhcp1', 'rs1 - - 0 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .\n')
    proc = lab.run(qualys_sim)
    assert proc.returncode != 0 and expected in proc.stdout
    assert qualys_sim.state.calls == []
    assert (lab.spool_dir('dhcp1') / 'current').exists()  # lease_events never ran


def test_coverage_report_page_and_summary(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A, 3600, 'alice-lt'), ('10.77.0.101', B, 3600, 'bob-lt')])
    lab.run(qualys_sim)
    qualys_sim.state.set_alive(['10.77.0.100'])
    qualys_sim.state.scan_action('*', 'process')
    lab.run(qualys_sim)
    page = lab.root / 'coverage.html'
    proc = lab.run(playbook='roamscan.qualys.coverage_report', extra_vars={'roamscan_report_path': str(page)})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert '1/2 laptops seen in the last 30 days were scanned within them (50.0%); 1 overdue (1 present now)' in proc.stdout
    html = page.read_text()
    assert '<strong>50.0%</strong>' in html
    overdue_table = html[html.index('<table id="overdue">'):]
    assert 'bob-lt' in overdue_table and 'alice-lt' not in overdue_table
