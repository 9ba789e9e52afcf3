# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Departure risk: how likely a present device leaves before a scan launched now would reach it.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

From holding history alone (``ip_history`` ``[{ip, from, to}]``, closed visits): the visit lengths of
the device (of the fleet, while the device has fewer than MIN_VISITS), preferring visits that began
near the same time of day. Given how long the current holding has lasted (``elapsed``), the risk is
the empirical survival estimate P(visit ends before elapsed + lead | visit lasted elapsed): of the
past visits longer than ``elapsed``, the share that ended within ``lead``. No visit that long: the
device has outstayed its history, risk 1. No history at all: UNKNOWN_RISK.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._time import parse_time

MIN_VISITS = 3
# visits that began within this many hours of the current one's start hour count as "the same time of day"
HOUR_SPAN = 2
UNKNOWN_RISK = 0.5
FLEET_VISITS_KEPT = 2000


def _seconds(start, end):
    return (parse_time(end) - parse_time(start)).total_seconds()


def visits(record):
    """``[(start hour, seconds)]`` of the record's closed holdings."""
    found = []
    for entry in record.get('ip_history') or []:
        try:
            found.append((parse_time(entry['from']).hour, _seconds(entry['from'], entry['to'])))
        except (KeyError, TypeError, ValueError):
            continue
    return found


def fleet_visits(records):
    """The closed visits of every record given (bounded), the fallback for devices with little history."""
    found = []
    for key in sorted(records):
        found.extend(visits(records[key]))
        if len(found) >= FLEET_VISITS_KEPT:
            break
    return found[:FLEET_VISITS_KEPT]


def _same_time_of_day(sample, hour):
    near = [seconds for start, seconds in sample if min(abs(start - hour), 24 - abs(start - hour)) <= HOUR_SPAN]
    return near if len(near) >= MIN_VISITS else [seconds for dummy, seconds in sample]


def leave_risk(record, now, lead_seconds, fleet):
    """P(the device leaves within ``lead_seconds`` from ``now``), from its visits (or ``fleet``'s)."""
    held_since = record.get('held_since')
    if not held_since:
        return UNKNOWN_RISK
    own = visits(record)
    sample = own if len(own) >= MIN_VISITS else fleet
    if not sample:
        return UNKNOWN_RISK
    lengths = _same_time_of_day(sample, parse_time(held_since).hour)
    elapsed = max(_seconds(held_since, now), 0)
    survivors = [seconds for seconds in lengths if seconds > elapsed]
    if not survivors:
        return 1.0
    return sum(1 for seconds in survivors if seconds <= elapsed + lead_seconds) / float(len(survivors))


def rank(due, records, now, lead_seconds):
    """The ``due`` candidates (_decide.candidates) each with its ``leave_risk`` (rounded to 2 places), so that
    _queue orders each deadline day by that risk, highest first."""
    fleet = fleet_visits(records)
    for item in due:
        record = records.get(item['identity']) or {}
        item['leave_risk'] = round(leave_risk(record, now, lead_seconds, fleet), 2)
    return due
