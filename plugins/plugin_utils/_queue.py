# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan queue: in which order due laptops get a place in a launch, and who waits.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Candidates are ordered by deadline (``overdue_since``: last scan + rescan_days, or first seen
when never scanned), then by arrival (``held_since``: the laptop that arrived first has waited
longest), then by identity so that the order never depends on how records were read.
"""

from __future__ import annotations


def queue_key(candidate):
    return (candidate.get('overdue_since') or '', candidate.get('held_since') or '', candidate.get('identity') or '')


def ordered(candidates):
    """The candidates in queue order."""
    return sorted(candidates, key=queue_key)


def take(candidates, places, reason):
    """``(chosen, held_back)``: the first ``places`` of the queue, and the others, each with its
    1-based ``position`` in the whole queue and ``reason`` (why it waits this cycle)."""
    queue = ordered(candidates)
    places = max(places, 0)
    held_back = [{'identity': item['identity'], 'mac': item['mac'], 'ip': item['ip'], 'position': position, 'overdue_since': item.get('overdue_since'),
                  'held_since': item.get('held_since'), 'reason': reason}
                 for position, item in enumerate(queue[places:], start=places + 1)]
    return queue[:places], held_back
