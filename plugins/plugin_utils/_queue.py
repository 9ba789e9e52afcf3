# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan queue: in which order due laptops get a place in a launch, and who waits.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Candidates are ordered by deadline (``overdue_since``: last scan + rescan_days, or first seen
when never scanned), then by arrival (``held_since``: the laptop that arrived first has waited
longest), then by identity so that the order never depends on how records were read. Candidates
ranked by departure risk (``leave_risk``, _departure.py) are ordered by the day of their deadline,
then the device most likely to leave first, then as above: within a day's deadlines, a scan is
spent where it would otherwise be lost.
"""

from __future__ import annotations


def queue_key(candidate):
    deadline = candidate.get('overdue_since') or ''
    risk = candidate.get('leave_risk')
    first = (deadline[:10], -risk) if risk is not None else ()
    return first + (deadline, candidate.get('held_since') or '', candidate.get('identity') or '')


def ordered(candidates):
    """The candidates in queue order."""
    return sorted(candidates, key=queue_key)


def take(candidates, places, reason):
    """``(chosen, held_back)``: the first ``places`` of the queue, and the others, each with its
    1-based ``position`` in the whole queue and ``reason`` (why it waits this cycle)."""
    queue = ordered(candidates)
    places = max(places, 0)
    held_back = [{'identity': item['identity'], 'mac': item['mac'], 'ip': item['ip'], 'position': position,
                  'overdue_since': item.get('overdue_since'), 'held_since': item.get('held_since'), 'reason': reason,
                  **({'leave_risk': item['leave_risk']} if 'leave_risk' in item else {})}
                 for position, item in enumerate(queue[places:], start=places + 1)]
    return queue[:places], held_back
