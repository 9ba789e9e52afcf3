# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _summary
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, X, Y, NOW, present, report


def test_summary_counts():
    records = {A: present(A, X), B: present(B, Y, last_scanned='2026-11-27T00:00:00Z')}
    records[B]['lease_state'] = 'released'
    assert _summary.counts(records, NOW, 30) == {'known': 2, 'present': 1, 'overdue': 1, 'pending': 0}


def test_acknowledge_only_what_was_stored():
    reports = [('dhcp1', dict(report(NOW), source='kea', spool_dir='/var/spool/roamscan')), ('dhcp2', dict(report(NOW), cursor=None)),
               ('dhcp3', 'not a result'), ('vpn1', dict(report(NOW), source='openvpn', spool_dir='/srv/vpn-spool', cursor='v'))]
    assert _summary.acknowledgements(reports, stored=True) == [
        {'host': 'dhcp1', 'source': 'kea', 'spool_dir': '/var/spool/roamscan', 'cursor': 'c'},
        {'host': 'vpn1', 'source': 'openvpn', 'spool_dir': '/srv/vpn-spool', 'cursor': 'v'}]
    assert _summary.acknowledgements(reports, stored=False) == []


def test_stage_of_a_task_is_the_first_word_of_its_name():
    assert _summary.stage_of('Confirm | Read the state of pending roamscan scans') == 'confirm'
    assert _summary.stage_of('Launch | One scan of all of them') == 'launch'
    assert _summary.stage_of('Something else') is None and _summary.stage_of(None) is None


def completed_results():
    return {
        'remember': {'servers': ['dhcp1'], 'not_reported': {}, 'unusable': [{}], 'corrupt': [], 'corrupt_spool_lines': {}},
        'confirm': {'confirmed': {'credited': [{'identity': A, 'mac': A, 'ip': X, 'scan_ref': 'scan/1.1', 'reason': 'r'}],
                                  'not_credited': [], 'abandoned': []}},
        'decide': {'plan': {'title': 'roamscan T', 'targets': [{'identity': B, 'mac': B, 'ip': Y}], 'held': None}, 'merged': []},
        'verify': {'launch': {'title': 'roamscan T', 'targets': [{'identity': B, 'mac': B, 'ip': Y}], 'dropped': []}},
        'launch': {'scan_refs': ['scan/1.2'], 'changed': True},
        'record': {'launch': {'recorded': [{'identity': B, 'mac': B, 'ip': Y, 'scan_ref': 'scan/1.2'}], 'missing': []}},
    }


def test_summary_of_a_completed_cycle():
    counts = {'known': 2, 'present': 2, 'overdue': 1, 'pending': 1}
    summary = _summary.cycle_summary(completed_results(), counts, acknowledged=['dhcp1'])
    assert summary['credited'] == [A] and summary['launched'] == ['scan/1.2'] and summary['launched_targets'] == [Y]
    assert summary['known'] == 2 and summary['unusable_dhcp_entries'] == 1 and summary['acknowledged'] == ['dhcp1']
    assert summary['fault'] is None and summary['not_done'] == [] and summary['resumed'] is None


def test_summary_after_a_fault_says_what_was_done_and_what_was_not_and_why():
    results = completed_results()
    results['launch'] = {'failed': True, 'msg': 'Qualys answered 503'}
    del results['record']
    fault = {'stage': 'launch', 'task': 'Launch | One scan of all of them', 'msg': 'Qualys answered 503'}
    summary = _summary.cycle_summary(results, None, fault)
    assert summary['credited'] == [A] and summary['launched'] == [] and summary['launched_targets'] == []
    assert summary['known'] is None
    assert [item['stage'] for item in summary['not_done']] == ['launch', 'record']
    assert all('Qualys answered 503' in item['reason'] for item in summary['not_done'])


def test_summary_says_what_it_resumed_from_a_cycle_that_never_ended():
    results = completed_results()
    results['decide']['plan'].update(resumed=True, intended_at='2026-11-28T07:45:00Z')
    took_over = {'host': 'controller1', 'pid': 4242, 'since': 1795852800.0, 'expires': 1795854600.0}
    summary = _summary.cycle_summary(results, None, took_over=took_over)
    assert summary['resumed']['launch'] == {'title': 'roamscan T', 'intended_at': '2026-11-28T07:45:00Z'}
    assert summary['resumed']['after'] == {
        'host': 'controller1', 'pid': 4242, 'since': '2026-11-28T08:00:00Z',
        'msg': 'resumed after the cycle on controller1 (pid 4242) since 2026-11-28T08:00:00Z, which did not finish'}
    results['decide']['plan']['resumed'] = False
    assert _summary.cycle_summary(results, None, took_over=took_over)['resumed']['launch'] is None
    assert _summary.cycle_summary(results, None)['resumed'] is None
