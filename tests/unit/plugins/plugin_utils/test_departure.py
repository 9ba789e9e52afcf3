# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Departure risk from holding history, and the queue order it gives: a scan goes where it would otherwise be lost."""
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._departure import UNKNOWN_RISK, leave_risk, rank
from ansible_collections.roamscan.qualys.plugins.plugin_utils._queue import ordered

NOW = '2026-12-01T10:00:00Z'
LEAD = 1800


def history(*visits):
    """ip_history of visits ``(day, start hour, minutes)``."""
    entries = []
    for day, hour, minutes in visits:
        start = '2026-11-%02dT%02d:00:00Z' % (day, hour)
        end_minutes = hour * 60 + minutes
        entries.append({'ip': '10.0.0.9', 'from': start, 'to': '2026-11-%02dT%02d:%02d:00Z' % (day, end_minutes // 60, end_minutes % 60)})
    return entries


def record(held_since, visits=()):
    return {'held_since': held_since, 'ip_history': history(*visits)}


SHORT_VISITS = [(day, 9, 40) for day in range(2, 8)]        # 40-minute visits at 09:00 (a VPN user, a meeting room)
LONG_VISITS = [(day, 9, 8 * 60 - 1) for day in range(2, 8)]  # all-day office visits


def test_a_device_whose_visits_are_short_is_likely_to_leave_within_the_lead():
    assert leave_risk(record('2026-12-01T09:20:00Z', SHORT_VISITS), NOW, LEAD, []) == 1.0
    assert leave_risk(record('2026-12-01T09:20:00Z', LONG_VISITS), NOW, LEAD, []) == 0.0


def test_risk_is_conditional_on_how_long_the_visit_has_lasted():
    mixed = [(2, 9, 30), (3, 9, 30), (4, 9, 300), (5, 9, 300)]
    assert leave_risk(record('2026-12-01T09:55:00Z', mixed), NOW, LEAD, []) == 0.5
    # past the short visits' length only the long ones remain as a guide
    assert leave_risk(record('2026-12-01T09:00:00Z', mixed), NOW, LEAD, []) == 0.0


def test_a_device_that_outstayed_all_its_visits_is_treated_as_leaving():
    assert leave_risk(record('2026-12-01T07:00:00Z', SHORT_VISITS), NOW, LEAD, []) == 1.0


def test_little_own_history_falls_back_to_the_fleet_and_none_to_unknown():
    fleet = [(9, 40 * 60)] * 5
    assert leave_risk(record('2026-12-01T09:50:00Z', [(2, 9, 400)]), NOW, LEAD, fleet) == 1.0
    assert leave_risk(record('2026-12-01T09:50:00Z'), NOW, LEAD, []) == UNKNOWN_RISK
    assert leave_risk({'held_since': None}, NOW, LEAD, fleet) == UNKNOWN_RISK


def test_visits_at_the_same_time_of_day_count_first():
    # mornings short, evenings long: a morning arrival is judged by the mornings
    visits = [(day, 9, 30) for day in range(2, 5)] + [(day, 18, 300) for day in range(2, 8)]
    assert leave_risk(record('2026-12-01T09:50:00Z', visits), NOW, LEAD, []) == 1.0
    assert leave_risk(record('2026-12-01T18:10:00Z', visits), '2026-12-01T18:20:00Z', LEAD, []) == 0.0


def test_rank_orders_a_deadline_day_by_risk_and_keeps_earlier_days_first():
    records = {'stays': record('2026-12-01T09:50:00Z', LONG_VISITS), 'leaves': record('2026-12-01T09:50:00Z', SHORT_VISITS),
               'older': record('2026-12-01T09:50:00Z', LONG_VISITS)}
    due = [{'identity': 'stays', 'mac': 'stays', 'ip': '10.0.0.1', 'overdue_since': '2026-11-30T08:00:00Z', 'held_since': '2026-12-01T09:50:00Z'},
           {'identity': 'leaves', 'mac': 'leaves', 'ip': '10.0.0.2', 'overdue_since': '2026-11-30T20:00:00Z', 'held_since': '2026-12-01T09:50:00Z'},
           {'identity': 'older', 'mac': 'older', 'ip': '10.0.0.3', 'overdue_since': '2026-11-29T23:00:00Z', 'held_since': '2026-12-01T09:50:00Z'}]
    queue = ordered(rank(due, records, NOW, LEAD))
    assert [(item['mac'], item['leave_risk']) for item in queue] == [('older', 0.0), ('leaves', 1.0), ('stays', 0.0)]
    # without risks the queue is by deadline, then arrival, as before
    assert [item['mac'] for item in ordered([dict(item, leave_risk=None) for item in due])] == ['older', 'stays', 'leaves']
