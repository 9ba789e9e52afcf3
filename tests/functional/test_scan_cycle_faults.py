# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cycle against a Qualys that fails (the simulator's faults at the status poll, the host list and the
launch) and with settings from each place Ansible reads variables: the summary is always shown, says what
was done before the fault and what was not, the run exits non-zero, and only what was stored is acknowledged."""
from __future__ import annotations

import time

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of

A, B = '02:77:00:00:0a:01', '02:77:00:00:0b:02'
HOST = {A: 'mac-027700000a01', B: 'mac-027700000b02'}
# short waits, so a fault ends the step in seconds
QUICK = {'roamscan_qualys_connection': {'timeout': 2, 'max_wait': 5}}
AFTER_CONFIRM = ['confirm', 'decide', 'verify', 'launch', 'record']
# how long the rate-limit fault blocks launches (its 409 says so with TO_WAIT_SEC)
BLOCK_SECONDS = 3


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def spool_event(mac, ip):
    return 'rs1 - - 0 kea lease %s %s - - .\n' % (mac, ip)


@pytest.mark.parametrize('fault', ['http_503_html', 'drop_response'])
def test_outage_at_the_status_poll_summarises_and_acknowledges_what_was_stored(lab, qualys_sim, fault):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    assert lab.run(qualys_sim).returncode == 0
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    qualys_sim.state.add_fault(fault, api='scan:list', count=10)
    proc = lab.run(qualys_sim, extra_vars=QUICK)
    summary = summary_of(proc)
    assert proc.returncode != 0
    assert summary['fault']['stage'] == 'confirm' and summary['fault']['task'].startswith('Confirm |')
    assert [item['stage'] for item in summary['not_done']] == AFTER_CONFIRM
    assert summary['dhcp_servers_reported'] == ['dhcp1'] and summary['acknowledged'] == ['dhcp1']
    assert summary['known'] == 2 and summary['pending'] == 1 and summary['launched'] == []
    records, dummy = lab.inventory()
    assert records[HOST[B]]['lease_state'] == 'active'     # remembered before the fault, so acknowledged
    assert len(launch_calls(qualys_sim)) == 1

    qualys_sim.state.faults.clear()   # Qualys is back
    qualys_sim.state.scan_action('*', 'process')
    after = summary_of(lab.run(qualys_sim))
    assert after['credited'] == [A] and after['fault'] is None and after['launched_targets'] == ['10.77.0.101']


def test_timeout_at_the_host_list_lookup_launches_nothing_and_exits_non_zero(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    qualys_sim.state.add_fault('slow', api='host:list', count=10, seconds=4)
    proc = lab.run(qualys_sim, extra_vars=QUICK)
    summary = summary_of(proc)
    assert proc.returncode != 0
    assert summary['fault']['stage'] == 'decide' and summary['fault']['msg']
    assert [item['stage'] for item in summary['not_done']] == ['decide', 'verify', 'launch', 'record']
    assert summary['acknowledged'] == ['dhcp1'] and summary['known'] == 1 and summary['pending'] == 0
    assert launch_calls(qualys_sim) == []


def test_rate_limit_beyond_max_wait_at_the_launch_keeps_the_intent_and_the_next_run_launches_once(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    # a block that ends before the next run (one that does not holds the next run: test_api_budget.py)
    qualys_sim.state.add_fault('rate_409', api='scan:launch', count=1, to_wait=BLOCK_SECONDS)
    proc = lab.run(qualys_sim, extra_vars={'roamscan_qualys_connection': {'timeout': 2, 'max_wait': 1}})
    summary = summary_of(proc)
    assert proc.returncode != 0
    assert summary['fault']['stage'] == 'launch' and 'max_wait' in summary['fault']['msg']
    assert [item['stage'] for item in summary['not_done']] == ['launch', 'record']
    assert summary['launched'] == [] and qualys_sim.state.scans == []
    records, dummy = lab.inventory()
    intent = records[HOST[A]]['pending']
    assert intent['scan_ref'] is None and intent['ip'] == '10.77.0.100'

    # the block began before the first run ended: waiting it out makes "ends before the next run" true under any load
    time.sleep(BLOCK_SECONDS + 0.5)
    after = summary_of(lab.run(qualys_sim))
    assert len(qualys_sim.state.scans) == 1 and after['launched'] == [qualys_sim.state.scans[0]['ref']]
    records, dummy = lab.inventory()
    assert records[HOST[A]]['pending'] == dict(intent, scan_ref=qualys_sim.state.scans[0]['ref'])


def test_check_mode_stores_nothing_and_acknowledges_nothing(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    lab.append_spool('dhcp1', spool_event(A, '10.77.0.100'))
    proc = lab.run(qualys_sim, options=['--check'])
    summary = summary_of(proc)
    # the summary counts what the run would store (check mode everywhere); the store itself stays empty
    assert proc.returncode == 0 and summary['acknowledged'] == [] and summary['known'] == 1
    records, dummy = lab.inventory()
    assert records == {}
    summary = summary_of(lab.run(qualys_sim))
    assert summary['acknowledged'] == ['dhcp1'] and summary['known'] == 1


@pytest.mark.parametrize('settings, message', [
    ({'roamscan_scanner': None}, 'no scanner selector'),
    ({'roamscan_rescan_days': 0}, 'roamscan_rescan_days must be at least 1'),
])
def test_bad_settings_stop_the_cycle_before_anything_is_read(lab, qualys_sim, settings, message):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    lab.append_spool('dhcp1', spool_event(A, '10.77.0.100'))
    proc = lab.run(qualys_sim, extra_vars=settings)
    summary = summary_of(proc)
    assert proc.returncode != 0 and message in summary['fault']['msg']
    assert summary['fault']['stage'] == 'collect' and summary['dhcp_servers_reported'] == []
    assert qualys_sim.state.calls == []
    assert (lab.spool_dir('dhcp1') / 'current').exists()  # lease_events never ran


def write_vars(lab, kind, name, text):
    (lab.root / kind).mkdir(exist_ok=True)
    (lab.root / kind / ('%s.yml' % name)).write_text(text)


def test_setting_from_host_vars_of_localhost(lab, qualys_sim):
    write_vars(lab, 'host_vars', 'localhost', 'roamscan_max_hosts_per_cycle: 1\n')
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    summary = summary_of(lab.run(qualys_sim))
    assert len(summary['launched_targets']) == 1


def test_extra_vars_beat_group_vars(lab, qualys_sim):
    write_vars(lab, 'group_vars', 'all', 'roamscan_scan_title_prefix: laptops\nroamscan_max_hosts_per_cycle: 1\n')
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    summary = summary_of(lab.run(qualys_sim, extra_vars={'roamscan_scan_title_prefix': 'from-extra-vars'}))
    assert len(summary['launched_targets']) == 1     # group_vars still count where extra vars are silent
    assert launch_calls(qualys_sim)[0]['params']['scan_title'].startswith('from-extra-vars ')
