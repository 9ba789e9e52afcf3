# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cycle history: one compact entry per day in the store, so that the report can draw a trend.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

The history is the non-laptop entry ``roamscan-history`` of the laptop store::

    {schema: 1, days: [{day, cycles, last_at, known, present, overdue, pending, covered_share,
                        launched_scans, launched_targets, credited, not_credited, faults,
                        dropped: {reason: count}, api_calls: {api: count}}, ...]}   (oldest first)

Its size depends on the retention only, never on the number of devices: each cycle folds its
summary into today's entry (counters add up, the device counts are the latest cycle's), entries
older than ``roamscan_history_days`` are dropped and each reason map keeps at most
MAX_REASONS keys.
"""

from __future__ import annotations

import re

from ansible_collections.roamscan.qualys.plugins.module_utils._time import shift

HISTORY_KEY = 'roamscan-history'
SCHEMA = 1
MAX_REASONS = 16
OTHER = 'other'
# reasons name the IP (``IP 10.1.2.3 no longer leased``): one key per kind of reason, not per address
ADDRESS = re.compile(r'\b\d{1,3}(?:\.\d{1,3}){3}\b')
# the Qualys API each module of the cycle calls (its result's api_calls): the allowance is counted per API
API_OF_MODULE = {'roamscan_status': 'scan_status', 'roamscan_elsewhere': 'host_list', 'roamscan_launch': 'scan_launch',
                 'roamscan_login': 'login_check'}
SNAPSHOT = ('known', 'present', 'overdue', 'pending')
COUNTERS = ('cycles', 'launched_scans', 'launched_targets', 'credited', 'not_credited', 'faults')


class InvalidHistory(ValueError):
    """A stored history that is not the shape this collection writes."""


def empty_day(day):
    entry = {'day': day, 'last_at': None, 'covered_share': None, 'dropped': {}, 'api_calls': {}}
    entry.update({name: 0 for name in COUNTERS})
    entry.update({name: None for name in SNAPSHOT})
    return entry


def parse_history(value):
    """The list of day entries of a stored history value (None: none yet); InvalidHistory when it is no history."""
    if value is None:
        return []
    if not isinstance(value, dict) or value.get('schema') != SCHEMA or not isinstance(value.get('days'), list):
        raise InvalidHistory('%s is not a schema %d roamscan history' % (HISTORY_KEY, SCHEMA))
    days = []
    for entry in value['days']:
        if not isinstance(entry, dict) or not isinstance(entry.get('day'), str):
            raise InvalidHistory('%s holds an entry without a day' % HISTORY_KEY)
        day = empty_day(entry['day'])
        day.update({key: entry[key] for key in day if key in entry})
        days.append(day)
    return sorted(days, key=lambda item: item['day'])


def _add_counts(counts, reasons):
    for reason in reasons:
        reason = ADDRESS.sub('<ip>', str(reason or 'unknown'))[:120]
        if reason not in counts and len(counts) >= MAX_REASONS - 1:
            reason = OTHER
        counts[reason] = counts.get(reason, 0) + 1


def fold_cycle(days, summary, api_calls, now, keep_days):
    """``days`` with this cycle's ``summary`` folded into today's entry, entries older than ``keep_days`` dropped.

    ``api_calls`` is ``{api: calls}`` of this cycle; ``summary`` is cycle_summary's.
    """
    today = now[:10]
    oldest = shift(now, days=-keep_days)[:10]
    kept = [entry for entry in days if oldest < entry['day'] < today]
    entry = next((item for item in days if item['day'] == today), None) or empty_day(today)
    entry['cycles'] += 1
    entry['last_at'] = now
    if summary.get('known') is not None:
        entry.update({name: summary[name] for name in SNAPSHOT})
        entry['covered_share'] = round((summary['known'] - summary['overdue']) / summary['known'], 4) if summary['known'] else None
    entry['launched_scans'] += len(summary.get('launched') or [])
    entry['launched_targets'] += len(summary.get('launched_targets') or [])
    entry['credited'] += len(summary.get('credited') or [])
    entry['not_credited'] += len(summary.get('not_credited') or [])
    entry['faults'] += bool(summary.get('fault'))
    _add_counts(entry['dropped'], [item.get('reason') for item in (summary.get('dropped_at_launch') or []) + (summary.get('not_credited') or [])
                                   if isinstance(item, dict)])
    for api, calls in api_calls.items():
        entry['api_calls'][api] = entry['api_calls'].get(api, 0) + int(calls or 0)
    return kept + [entry]


def history_value(days, rescan_days=None):
    """The stored history: the days, and the rescan period of the cycle that wrote it (the inventory's default)."""
    value = {'schema': SCHEMA, 'days': days}
    if rescan_days is not None:
        value['rescan_days'] = rescan_days
    return value


def recorded_rescan_days(value):
    """The rescan period the last cycle used, from a stored history value; None when it names none."""
    found = value.get('rescan_days') if isinstance(value, dict) else None
    return found if isinstance(found, int) and not isinstance(found, bool) and found >= 1 else None


def cycle_api_calls(results):
    """``{api: calls}`` from the registered results of the cycle's Qualys modules (``{variable: result}``)."""
    calls = {}
    for variable, api in API_OF_MODULE.items():
        result = results.get(variable)
        if isinstance(result, dict) and isinstance(result.get('api_calls'), int):
            calls[api] = result['api_calls']
    return calls
