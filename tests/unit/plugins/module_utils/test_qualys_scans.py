# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import (
    QualysApiError,
    QualysLaunchOutcomeUnknown,
    QualysTransportError,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_scans import (
    LaunchIncomplete,
    LaunchUndecided,
    classify_results,
    launch_plan,
    list_params_for,
    plan_launches,
    poll_until_done,
    validate_refs,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_targets import InvalidTarget


class FakeClient:
    """Scripted scan API: list answers, launch outcomes and fetch results, with a call log."""

    def __init__(self, lists=(), launches=(), results=None):
        self.lists = list(lists)
        self.launches = list(launches)
        self.results = results or {}
        self.calls = []

    def list_scans(self, params):
        self.calls.append(('list', params))
        answer = self.lists.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def launch_scan(self, params):
        self.calls.append(('launch', params))
        outcome = self.launches.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def fetch_scan_results(self, ref):
        self.calls.append(('fetch', ref))
        return self.results[ref]


def scan(ref, state='Running', processed=False, title='t', target='10.0.0.1-10.0.0.3'):
    return {'ref': ref, 'title': title, 'state': state, 'sub_state': None, 'processed': processed,
            'launched': '2026-11-28T07:00:00Z', 'duration': '00:01:00', 'target': target, 'user_login': 'u'}


OPTIONS = {'option_title': 'Initial Options', 'iscanner_name': 's1'}


def test_plan_titles_and_targets():
    plan = plan_launches(['10.0.0.1-10.0.0.5'], 'roam', 2)
    assert [(p['title'], p['targets']) for p in plan] == [
        ('roam [1/3]', ['10.0.0.1-10.0.0.2']), ('roam [2/3]', ['10.0.0.3-10.0.0.4']), ('roam [3/3]', ['10.0.0.5'])]
    assert [p['title'] for p in plan_launches(['10.0.0.1'], 'roam')] == ['roam']


def test_plan_rejects_before_anything():
    with pytest.raises(InvalidTarget):
        plan_launches(['10.0.0.1', 'bogus'], 'roam')


def test_launch_reuses_active_scan_with_same_title_and_targets():
    client = FakeClient(lists=[[scan('scan/1.1', title='other'), scan('scan/1.2', 'Queued')]])
    done = launch_plan(client, plan_launches(['10.0.0.2'], 't'), OPTIONS, 'u')
    assert done == [{'ref': 'scan/1.2', 'id': None, 'title': 't', 'targets': ['10.0.0.2'], 'reused': True,
                     'state': 'Queued'}]
    assert [c[0] for c in client.calls] == ['list']
    assert client.calls[0][1] == {'state': 'Queued,Loading,Running', 'user_login': 'u'}


def test_active_scan_not_covering_the_targets_is_not_reused():
    client = FakeClient(lists=[[scan('scan/1.2', 'Queued', target='10.0.0.1')]],
                        launches=[{'ref': 'scan/2.1', 'id': '9'}])
    done = launch_plan(client, plan_launches(['10.0.0.1-10.0.0.2'], 't'), OPTIONS, 'u')
    assert done[0]['ref'] == 'scan/2.1' and done[0]['reused'] is False
    assert client.calls[1] == ('launch', dict(OPTIONS, scan_title='t', ip='10.0.0.1-10.0.0.2'))


def test_lost_launch_answer_recovered_by_one_lookup():
    warnings = []
    client = FakeClient(lists=[[], [scan('scan/3.1', 'Queued', target='10.0.0.1')]],
                        launches=[QualysLaunchOutcomeUnknown('lost')])
    done = launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u', warn=warnings.append)
    assert done[0]['ref'] == 'scan/3.1' and done[0]['reused']
    assert [c[0] for c in client.calls] == ['list', 'launch', 'list']
    assert 'scan/3.1' in warnings[0]


def test_lost_launch_not_found_fails_saying_rerun_is_safe():
    client = FakeClient(lists=[[], []], launches=[QualysLaunchOutcomeUnknown('lost')])
    with pytest.raises(LaunchIncomplete, match='most likely not launched; re-running is safe'):
        launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u')
    assert [c[0] for c in client.calls] == ['list', 'launch', 'list']


def test_lost_launch_without_reuse_fails_and_is_never_resent():
    client = FakeClient(launches=[QualysLaunchOutcomeUnknown('lost')])
    with pytest.raises(LaunchIncomplete, match='reuse_active=true'):
        launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u', reuse_active=False)
    assert [c[0] for c in client.calls] == ['launch']


def test_recover_lost_looks_for_the_scan_only_after_the_answer_was_lost():
    found = {'ref': 'scan/9.9', 'title': 't', 'state': 'Queued', 'target': '10.0.0.1'}
    client = FakeClient(lists=[[found]], launches=[QualysLaunchOutcomeUnknown('lost')])
    (scan,) = launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u', reuse_active=False, recover_lost=True)
    assert scan['ref'] == 'scan/9.9' and scan['reused'] and [c[0] for c in client.calls] == ['launch', 'list']
    client = FakeClient(launches=[{'ref': 'scan/4.1', 'id': '1'}])
    launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u', reuse_active=False, recover_lost=True)
    assert [c[0] for c in client.calls] == ['launch']


def test_failure_after_first_chunk_keeps_launched_scans():
    client = FakeClient(lists=[[]], launches=[{'ref': 'scan/4.1', 'id': '1'}, QualysApiError('x', code='1905')])
    with pytest.raises(LaunchIncomplete) as caught:
        launch_plan(client, plan_launches(['10.0.0.1-10.0.0.2'], 't', 1), OPTIONS, 'u')
    assert [s['ref'] for s in caught.value.scans] == ['scan/4.1']
    assert caught.value.cause.code == '1905'


# --- resuming an intent whose launch may have happened ---------------------------------------

INTENT = '2026-11-28T07:00:04Z'


@pytest.mark.parametrize('state', ['Running', 'Finished', 'Canceled', 'Error', 'Paused'])
def test_resume_returns_the_intents_scan_whatever_its_state_in_one_call(state):
    client = FakeClient(lists=[[scan('scan/7.2', state, title='other'), scan('scan/7.1', state)]])
    done = launch_plan(client, plan_launches(['10.0.0.1-10.0.0.3'], 't'), OPTIONS, 'u', resume_since=INTENT)
    assert done == [{'ref': 'scan/7.1', 'id': None, 'title': 't', 'targets': ['10.0.0.1-10.0.0.3'], 'reused': True,
                     'state': state}]
    # no state filter, this user, launched since the intent minus the clock margin; no launch
    assert client.calls == [('list', {'user_login': 'u', 'launched_after_datetime': '2026-11-28T06:00:04Z'})]


def test_resume_launches_once_when_qualys_has_no_scan_of_that_title():
    client = FakeClient(lists=[[scan('scan/7.2', 'Finished', title='t earlier cycle')]],
                        launches=[{'ref': 'scan/8.1', 'id': '81'}])
    done = launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u', resume_since=INTENT)
    assert done[0]['ref'] == 'scan/8.1' and not done[0]['reused'] and done[0]['state'] is None
    assert [c[0] for c in client.calls] == ['list', 'launch']      # as many calls as a normal launch


def test_resume_with_split_launches_reuses_each_titled_part_and_launches_only_the_missing_one():
    client = FakeClient(lists=[[scan('scan/9.1', 'Finished', title='t [1/2]', target='10.0.0.1')]],
                        launches=[{'ref': 'scan/9.2', 'id': '92'}])
    done = launch_plan(client, plan_launches(['10.0.0.1-10.0.0.2'], 't', 1), OPTIONS, 'u', resume_since=INTENT)
    assert [(s['ref'], s['reused']) for s in done] == [('scan/9.1', True), ('scan/9.2', False)]
    assert client.calls[1] == ('launch', dict(OPTIONS, scan_title='t [2/2]', ip='10.0.0.2'))


def test_resume_fails_without_launching_when_qualys_cannot_be_asked():
    client = FakeClient(lists=[QualysTransportError('Qualys answered HTTP 503')])
    with pytest.raises(LaunchUndecided, match='nothing was launched.*HTTP 503'):
        launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u', resume_since=INTENT)
    assert [c[0] for c in client.calls] == ['list']


def test_resume_fails_without_launching_when_several_scans_carry_the_title():
    twice = [scan('scan/7.1', 'Finished', title='t [2/2]'), scan('scan/7.3', 'Running', title='t [2/2]')]
    client = FakeClient(lists=[twice])
    with pytest.raises(LaunchUndecided, match=r'2 scans titled "t \[2/2\]".*scan/7.1 \(Finished\), scan/7.3 \(Running\)'):
        launch_plan(client, plan_launches(['10.0.0.1-10.0.0.2'], 't', 1), OPTIONS, 'u', resume_since=INTENT)
    assert [c[0] for c in client.calls] == ['list']     # decided before the first launch: not even [1/2] launched


def test_resumed_scan_missing_targets_is_still_reused_with_a_warning():
    warnings = []
    client = FakeClient(lists=[[scan('scan/7.1', 'Finished', target='10.0.0.1')]])
    done = launch_plan(client, plan_launches(['10.0.0.1-10.0.0.2'], 't'), OPTIONS, 'u', warn=warnings.append,
                       resume_since=INTENT)
    assert done[0]['ref'] == 'scan/7.1' and [c[0] for c in client.calls] == ['list']
    assert 'does not cover every target' in warnings[0]


def test_resumed_launch_with_lost_answer_finds_the_scan_in_any_state():
    client = FakeClient(lists=[[], [scan('scan/8.1', 'Finished', target='10.0.0.1')]],
                        launches=[QualysLaunchOutcomeUnknown('lost')])
    done = launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u', resume_since=INTENT)
    assert done[0]['ref'] == 'scan/8.1' and done[0]['reused'] and done[0]['state'] == 'Finished'


def test_lost_launch_whose_lookup_fails_too_does_not_claim_rerun_is_safe_by_absence():
    client = FakeClient(lists=[[], QualysTransportError('reset')], launches=[QualysLaunchOutcomeUnknown('lost')])
    with pytest.raises(LaunchIncomplete, match='Looking for the scan afterwards failed too') as caught:
        launch_plan(client, plan_launches(['10.0.0.1'], 't'), OPTIONS, 'u')
    assert 'most likely not launched' not in str(caught.value)


def test_list_params_one_call_for_many_refs():
    assert list_params_for(['scan/1795849945.00001']) == {'scan_ref': 'scan/1795849945.00001'}
    assert list_params_for(['scan/1795849945.00001', 'scan/1795760000.00002']) == {
        'launched_after_datetime': '2026-11-26T06:13:20Z'}


def test_validate_refs():
    with pytest.raises(ValueError, match='scan/abc'):
        validate_refs(['scan/1.2', 'scan/abc'])


def results(finding_ips=(), no_vuln=(), not_scanned=None):
    return {'header': {}, 'finding_ips': set(finding_ips), 'no_vuln': list(no_vuln), 'not_scanned': not_scanned or {}}


def test_classify_needs_evidence_of_alive():
    scanned, not_scanned = classify_results('10.0.0.1-10.0.0.5', results(
        ['10.0.0.1'], ['10.0.0.2'], {'not_alive': ['10.0.0.3'], 'excluded': ['10.0.0.4']}))
    assert scanned == ['10.0.0.1', '10.0.0.2']
    assert not_scanned == [{'ip': '10.0.0.3', 'reason': 'not_alive'}, {'ip': '10.0.0.4', 'reason': 'excluded'},
                           {'ip': '10.0.0.5', 'reason': 'no_result'}]


def test_status_is_one_list_call_then_one_fetch_per_finished_scan():
    refs = ['scan/1795849945.%05d' % i for i in range(20)]
    first = [scan(ref) for ref in refs]
    second = [scan(ref, 'Finished', processed=i < 5) for i, ref in enumerate(refs)]
    client = FakeClient(lists=[first, second, second],
                        results={ref: results(['10.0.0.1'], [], {'not_alive': ['10.0.0.2-10.0.0.3']}) for ref in refs})
    clock = {'now': 0.0}
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        clock['now'] += seconds
    report, timed_out = poll_until_done(client, refs, True, 89, 30, sleep=sleep, monotonic=lambda: clock['now'])
    assert timed_out is True
    assert [c[0] for c in client.calls].count('list') == 3
    assert [c[0] for c in client.calls].count('fetch') == 5           # fetched once each, not per poll
    done = [s for s in report if s['done']]
    assert len(done) == 5 and done[0]['scanned'] == ['10.0.0.1']
    assert done[0]['not_scanned'] == [{'ip': '10.0.0.2', 'reason': 'not_alive'},
                                      {'ip': '10.0.0.3', 'reason': 'not_alive'}]
    assert all(s['scanned'] == [] for s in report if not s['done'])
    assert sleeps == [30, 30]


def test_status_without_wait_polls_once_and_reports_unknown_refs():
    client = FakeClient(lists=[[scan('scan/5.1', 'Error', processed=True)]])
    report, timed_out = poll_until_done(client, ['scan/5.1', 'scan/6.1'], False, 0, 30)
    assert timed_out is False
    assert report[0]['done'] and report[0]['state'] == 'Error' and report[0]['scanned'] == []
    assert report[1]['found'] is False and report[1]['done'] is True
    assert len(client.calls) == 1
