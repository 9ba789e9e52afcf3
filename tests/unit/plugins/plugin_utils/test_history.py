# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The daily cycle history: one entry a day, bounded by days and by reasons, whatever the fleet."""
from __future__ import annotations

import datetime
import json

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import (
    MAX_REASONS, InvalidHistory, cycle_api_calls, fold_cycle, history_value, parse_history, recorded_rescan_days)

SUMMARY = {'known': 100000, 'present': 9000, 'overdue': 2500, 'pending': 10, 'launched': ['scan/1'],
           'launched_targets': ['10.0.0.%d' % n for n in range(250)], 'credited': ['m'] * 200,
           'not_credited': [{'mac': 'm', 'reason': 'the scan did not find it alive'}] * 40,
           'dropped_at_launch': [{'mac': 'm', 'ip': '10.0.0.%d' % n, 'reason': 'IP 10.0.0.%d no longer leased to this MAC' % n}
                                 for n in range(30)], 'fault': None}


def test_cycles_of_one_day_fold_into_one_entry():
    days = fold_cycle([], SUMMARY, {'scan_launch': 2}, '2026-12-01T10:00:00Z', 400)
    days = fold_cycle(days, dict(SUMMARY, overdue=2000, fault={'stage': 'launch'}), {'scan_launch': 1, 'host_list': 4},
                      '2026-12-01T10:15:00Z', 400)
    assert len(days) == 1
    day = days[0]
    assert (day['cycles'], day['launched_targets'], day['credited'], day['faults']) == (2, 500, 400, 1)
    assert day['overdue'] == 2000 and day['covered_share'] == 0.98 and day['last_at'] == '2026-12-01T10:15:00Z'
    assert day['api_calls'] == {'scan_launch': 3, 'host_list': 4}
    assert day['dropped'] == {'IP <ip> no longer leased to this MAC': 60, 'the scan did not find it alive': 80}


def test_history_keeps_only_the_retention_and_is_small_at_100k_devices():
    days = []
    for number in range(500):
        now = '%sT10:00:00Z' % (datetime.date(2025, 1, 1) + datetime.timedelta(days=number)).isoformat()
        days = fold_cycle(days, SUMMARY, {'scan_status': 96, 'host_list': 96, 'scan_launch': 5}, now, 400)
    assert len(days) == 399 + 1 and days[-1]['day'] == '2026-05-15' and days[0]['day'] == '2025-04-11'
    assert len(json.dumps(history_value(days))) < 200000   # about 400 bytes a day, whatever the number of devices


def test_reasons_are_capped():
    summary = dict(SUMMARY, dropped_at_launch=[{'reason': 'reason %s' % chr(65 + n)} for n in range(40)], not_credited=[])
    day = fold_cycle([], summary, {}, '2026-12-01T10:00:00Z', 400)[0]
    assert len(day['dropped']) == MAX_REASONS and day['dropped']['other'] == 40 - (MAX_REASONS - 1)


@pytest.mark.parametrize('value', [[], {'schema': 2, 'days': []}, {'schema': 1, 'days': [{'cycles': 1}]}])
def test_a_foreign_history_is_refused(value):
    with pytest.raises(InvalidHistory):
        parse_history(value)


def test_api_calls_come_from_the_qualys_modules_results():
    results = {'roamscan_status': {'api_calls': 2}, 'roamscan_elsewhere': {'skipped': True}, 'roamscan_launch': {'api_calls': 1}}
    assert cycle_api_calls(results) == {'scan_status': 2, 'scan_launch': 1}


@pytest.mark.parametrize('value, found', [
    (history_value([], 14), 14), (history_value([]), None), ({'rescan_days': 0}, None), ({'rescan_days': True}, None),
    ({'rescan_days': '14'}, None), (None, None),
])
def test_the_rescan_period_of_the_last_cycle_is_read_back(value, found):
    assert recorded_rescan_days(value) == found
