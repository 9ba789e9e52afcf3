# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API budget governor: every decision it takes about a cycle's Qualys calls, and why it says it took it."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils._budget import (
    InvalidBudget, allowance, earliest_done, fold_cycle, fold_usage, held_plan, host_list_wanted, launch_decision,
    learn_scans, parse_budget, pending_scans, poll_decision, usage_left)
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import read_settings

NOW = '2026-12-01T10:00:00Z'
SETTINGS = read_settings({})
BATCHING = read_settings({'roamscan_batch_min_targets': 5})
EXPRESS = {'calls': 1, 'limit': 50, 'window_sec': 86400, 'remaining': 49, 'concurrency_limit': 1, 'blocked_code': None}
STANDARD = {'calls': 1, 'limit': 300, 'window_sec': 3600, 'remaining': 299, 'concurrency_limit': 2, 'blocked_code': None}
PENDING = [{'ref': 'scan/1.1', 'launched_at': '2026-12-01T09:50:00Z', 'targets': 3}]


def state_with(usage, now=NOW):
    state = parse_budget(None)
    fold_usage(state, usage, now)
    return state


def due(count, held_since='2026-12-01T09:55:00Z', risk=0.0):
    return [{'identity': '02:77:00:00:00:%02x' % n, 'mac': '02:77:00:00:00:%02x' % n, 'ip': '10.0.0.%d' % n,
             'overdue_since': '2026-11-01T00:00:00Z', 'held_since': held_since, 'leave_risk': risk} for n in range(1, count + 1)]


def test_what_qualys_said_remains_less_own_calls_since_and_the_reserve_is_usable():
    state = state_with({'scan_launch': dict(EXPRESS, remaining=10)}, now='2026-12-01T09:00:00Z')
    fold_usage(state, {'scan_launch': {'calls': 2}}, '2026-12-01T09:30:00Z')   # no headers: a failed call
    allowed = allowance(state, 'scan_launch', NOW, SETTINGS)
    assert (allowed['usable'], allowed['reserve'], allowed['spent']) == (10 - 2 - 5, 5, 3)
    assert 'scan_launch: 8 of 50 calls per day left, 5 kept for other tools' == allowed['why']


def test_an_operator_budget_smaller_than_what_qualys_leaves_wins():
    state = state_with({'scan_list': STANDARD})
    settings = read_settings({'roamscan_api_budgets': {'scan_list': 3}})
    fold_usage(state, {'scan_list': dict(STANDARD, calls=2, remaining=297)}, NOW)
    allowed = allowance(state, 'scan_list', NOW, settings)
    assert allowed['usable'] == 0 and 'roamscan_api_budgets allows 3 calls per hour, 3 spent' in allowed['why']
    # a rolling window: a call frees when the oldest leaves it
    assert allowed['next_at'] == '2026-12-01T11:00:00Z'


def test_an_api_qualys_never_named_a_limit_for_is_not_held():
    assert allowance(parse_budget(None), 'host_list', NOW, SETTINGS)['usable'] is None
    assert launch_decision(parse_budget(None), due(1), NOW, SETTINGS) is None


def test_a_409_is_recorded_and_respected_until_qualys_said_then_forgotten():
    state = state_with({'scan_launch': dict(EXPRESS, calls=1, remaining=0, blocked_code='1965', to_wait_sec=3600)})
    why = launch_decision(state, due(3), '2026-12-01T10:30:00Z', SETTINGS)
    assert why == ('budget: Qualys blocked scan_launch with HTTP 409 (code 1965) at 2026-12-01T10:00:00Z, until '
                   '2026-12-01T11:00:00Z; next launch after 2026-12-01T11:00:00Z')
    # once the wait is over Qualys frees calls again: the block's Remaining 0 is not kept
    assert allowance(state, 'scan_launch', '2026-12-01T11:00:01Z', SETTINGS)['why'].startswith('scan_launch: 49 of 50')
    fold_usage(state, {}, '2026-12-01T11:00:01Z')
    assert state['apis']['scan_launch']['blocked'] is None


def test_a_concurrency_409_without_a_wait_still_holds_the_api_a_minute():
    state = state_with({'scan_list': dict(STANDARD, remaining=None, blocked_code='1960')})
    assert state['apis']['scan_list']['blocked']['until'] == '2026-12-01T10:01:00Z'
    assert poll_decision(state, PENDING, '2026-12-01T10:00:30Z', SETTINGS)[0] is False


def test_express_spaces_launches_so_that_the_days_allowance_lasts():
    state = state_with({'scan_launch': EXPRESS}, now='2026-12-01T09:40:00Z')
    why = launch_decision(state, due(8), NOW, SETTINGS)
    assert why.startswith('budget: scan_launch calls spaced 32 min apart to last the day')
    assert why.endswith('next launch after 2026-12-01T10:12:00Z')
    assert launch_decision(state, due(8), '2026-12-01T10:12:00Z', SETTINGS) is None


def test_standard_is_not_spaced_the_schedule_spaces_cycles_more_already():
    state = state_with({'scan_launch': STANDARD}, now='2026-12-01T09:59:50Z')
    assert launch_decision(state, due(1), NOW, SETTINGS) is None


def test_a_small_batch_waits_for_more_arrivals_but_never_past_the_longest_wait():
    why = launch_decision(parse_budget(None), due(2), NOW, BATCHING)
    assert why == ('batching: 2 of 5 devices due, the first arrived 2026-12-01T09:55:00Z; launching by '
                   '2026-12-01T10:55:00Z at the latest, or at once when one is likely to leave (highest risk now 0%)')
    assert launch_decision(parse_budget(None), due(5), NOW, BATCHING) is None
    assert launch_decision(parse_budget(None), due(2), '2026-12-01T10:55:00Z', BATCHING) is None
    assert launch_decision(parse_budget(None), due(2), NOW, BATCHING, batching=False) is None


def test_a_device_likely_to_leave_launches_its_batch_at_once():
    likely = due(1, risk=0.2)
    assert launch_decision(parse_budget(None), likely, NOW, BATCHING) is None
    assert launch_decision(parse_budget(None), due(1, risk=0.19), NOW, BATCHING).startswith('batching: 1 of 5')


def test_a_deferred_launch_keeps_every_due_device_in_its_queue_place_with_the_reason():
    plan = {'title': 'roamscan x', 'targets': [{'mac': 'a', 'ip': '10.0.0.1'}], 'held': None, 'held_back': [],
            'held_back_count': 0, 'resumed': False, 'intended_at': None}
    held = held_plan(plan, due(2), 'budget: none left')
    assert held['title'] is None and held['targets'] == [] and held['held'] == 'budget: none left'
    assert [(item['position'], item['reason']) for item in held['held_back']] == [(1, 'budget: none left'), (2, 'budget: none left')]


def test_no_poll_before_a_scan_of_that_size_can_have_finished():
    state = parse_budget(None)
    assert poll_decision(state, PENDING, NOW, SETTINGS) == (True, None)   # nothing learned: poll as always
    state['durations']['0'] = [1500, 1300]
    assert earliest_done(state, PENDING[0], SETTINGS) == '2026-12-01T10:11:40Z'
    poll, why = poll_decision(state, PENDING, NOW, SETTINGS)
    assert not poll and why.endswith('next poll after 2026-12-01T10:11:40Z')
    assert poll_decision(state, PENDING, '2026-12-01T10:11:40Z', SETTINGS) == (True, None)
    # one scan that can have finished is enough for the one poll of them all
    bigger = PENDING + [{'ref': 'scan/2.2', 'launched_at': '2026-12-01T08:00:00Z', 'targets': 40}]
    assert poll_decision(state, bigger, NOW, SETTINGS) == (True, None)


def test_scan_times_are_learned_from_polls_that_found_them_not_done():
    state = parse_budget(None)
    learn_scans(state, PENDING, [{'ref': 'scan/1.1', 'done': False, 'state': 'Running'}], '2026-12-01T10:05:00Z')
    learn_scans(state, PENDING, [{'ref': 'scan/1.1', 'done': True, 'state': 'Finished', 'duration': 99999}], '2026-12-01T10:20:00Z')
    assert state['durations'] == {'0': [900]} and state['scans'] == {} and state['polled_at'] == '2026-12-01T10:20:00Z'
    # done at its first poll, or ended in error: nothing learned
    learn_scans(state, [{'ref': 'scan/3.3', 'launched_at': NOW, 'targets': 2}],
                [{'ref': 'scan/3.3', 'done': True, 'state': 'Finished'}], '2026-12-01T10:30:00Z')
    assert state['durations'] == {'0': [900]}


def test_no_poll_when_the_scan_list_api_has_no_budget():
    state = state_with({'scan_list': dict(EXPRESS, remaining=5)})
    poll, why = poll_decision(state, PENDING, '2026-12-01T11:00:00Z', SETTINGS)
    assert not poll and why.startswith('budget: scan_list: 5 of 50 calls per day left, 5 kept for other tools; next poll after')


def test_host_list_dates_are_cached_and_skipped_without_budget():
    hosts = [{'mac': 'a', 'ip': '10.0.0.1'}, {'mac': 'b', 'ip': '10.0.0.2'}]
    state = parse_budget(None)
    fold_cycle(state, {'roamscan_elsewhere': {'hosts': [{'mac': 'a', 'ip': '10.0.0.1'}], 'api_usage': {'host_list': STANDARD}}},
               '2026-12-01T09:00:00Z', SETTINGS)
    asked, why = host_list_wanted(state, hosts, NOW, SETTINGS)
    assert asked == [hosts[1]] and why == 'host list: 1 date(s) cached from the last 24 h'
    assert host_list_wanted(state, hosts, '2026-12-02T09:00:01Z', SETTINGS)[0] == hosts
    starved = state_with({'host_list': dict(EXPRESS, remaining=3)})
    expected = 'budget: host_list: 3 of 50 calls per day left, 5 kept for other tools; scans of other schedules not looked up for 2 device(s)'
    assert host_list_wanted(starved, hosts, NOW, SETTINGS) == ([], expected)


def test_a_cycle_folds_every_qualys_result_and_learns_only_from_the_scans_it_polled():
    state = parse_budget(None)
    remembered = {'pending_scans': PENDING + [{'ref': 'scan/9.9', 'launched_at': NOW, 'targets': 1}], 'poll_scan_refs': ['scan/1.1']}
    fold_cycle(state, {'roamscan_remembered': remembered,
                       'roamscan_status': {'scans': [{'ref': 'scan/1.1', 'done': False}], 'api_usage': {'scan_list': STANDARD}},
                       'roamscan_launch': {'failed': True, 'api_usage': {'scan_launch': dict(EXPRESS, blocked_code='1965', to_wait_sec=600)}}},
               NOW, SETTINGS)
    assert list(state['scans']) == ['scan/1.1'] and state['apis']['scan_list']['calls'] == [NOW]
    assert state['apis']['scan_launch']['blocked']['until'] == '2026-12-01T10:10:00Z'
    assert usage_left(state, NOW, SETTINGS) == {'scan_launch': '0 of 50 calls per day left to roamscan (5 kept for other tools)',
                                                'scan_list': '269 of 300 calls per hour left to roamscan (30 kept for other tools)'}


def test_pending_scans_count_their_targets():
    records = {'a': {'pending': {'scan_ref': 'scan/1.1', 'ip': '10.0.0.1', 'launched_at': NOW}},
               'b': {'pending': {'scan_ref': 'scan/1.1', 'ip': '10.0.0.2', 'launched_at': '2026-12-01T09:59:00Z'}},
               'c': {'pending': {'scan_ref': None, 'ip': '10.0.0.3', 'launched_at': NOW}}, 'd': {}}
    assert pending_scans(records) == [{'ref': 'scan/1.1', 'launched_at': '2026-12-01T09:59:00Z', 'targets': 2}]


@pytest.mark.parametrize('value', [
    [], {'schema': 2}, {'schema': 1, 'apis': []}, {'schema': 1, 'apis': {'x': {'calls': 'no'}}},
    {'schema': 1, 'apis': {'scan_list': {'calls': [1]}}}, {'schema': 1, 'apis': {'scan_list': {'calls': [], 'limit': '300'}}},
    {'schema': 1, 'apis': {'scan_list': {'calls': [], 'blocked': {'code': '1965'}}}},
    {'schema': 1, 'durations': {'0': ['900']}}, {'schema': 1, 'scans': {'scan/1.1': {}}},
    {'schema': 1, 'host_list': {'a': 'yesterday'}}, {'schema': 1, 'polled_at': 5},
])
def test_a_stored_entry_of_another_shape_is_refused(value):
    with pytest.raises(InvalidBudget):
        parse_budget(value)
