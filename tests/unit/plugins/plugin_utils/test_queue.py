# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan queue: deadline first, then the laptop that arrived first; who waits, at which place, why."""
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._queue import ordered, take


def candidate(mac, overdue_since, held_since):
    return {'identity': mac, 'mac': mac, 'ip': '10.77.0.%d' % int(mac[-2:], 16), 'overdue_since': overdue_since, 'held_since': held_since}


EARLY_DEADLINE = candidate('02:77:00:00:00:05', '2026-11-01T00:00:00Z', '2026-12-01T10:00:00Z')
ARRIVED_FIRST = candidate('02:77:00:00:00:03', '2026-11-20T00:00:00Z', '2026-12-01T08:00:00Z')
ARRIVED_LATER = candidate('02:77:00:00:00:01', '2026-11-20T00:00:00Z', '2026-12-01T09:00:00Z')
SAME_AS_LATER = candidate('02:77:00:00:00:02', '2026-11-20T00:00:00Z', '2026-12-01T09:00:00Z')


def test_deadline_then_arrival_then_mac():
    queue = ordered([SAME_AS_LATER, ARRIVED_LATER, ARRIVED_FIRST, EARLY_DEADLINE])
    assert [item['mac'][-2:] for item in queue] == ['05', '03', '01', '02']


def test_held_back_laptops_have_their_place_in_the_queue_and_the_reason():
    chosen, held = take([ARRIVED_LATER, SAME_AS_LATER, EARLY_DEADLINE, ARRIVED_FIRST], 2, 'batch full (max_hosts_per_cycle=2)')
    assert [item['mac'] for item in chosen] == [EARLY_DEADLINE['mac'], ARRIVED_FIRST['mac']]
    assert held == [
        {'identity': ARRIVED_LATER['mac'], 'mac': ARRIVED_LATER['mac'], 'ip': ARRIVED_LATER['ip'], 'position': 3, 'overdue_since': '2026-11-20T00:00:00Z',
         'held_since': '2026-12-01T09:00:00Z', 'reason': 'batch full (max_hosts_per_cycle=2)'},
        {'identity': SAME_AS_LATER['mac'], 'mac': SAME_AS_LATER['mac'], 'ip': SAME_AS_LATER['ip'], 'position': 4, 'overdue_since': '2026-11-20T00:00:00Z',
         'held_since': '2026-12-01T09:00:00Z', 'reason': 'batch full (max_hosts_per_cycle=2)'}]


def test_no_places_holds_everyone_back_in_order():
    chosen, held = take([ARRIVED_LATER, EARLY_DEADLINE], 0, '2 roamscan scans still pending')
    assert chosen == [] and [(item['position'], item['mac']) for item in held] == [(1, EARLY_DEADLINE['mac']), (2, ARRIVED_LATER['mac'])]
