# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Neighbour-table evidence about lease holdings: refresh the holder's last sighting, end a holding
another MAC was seen in."""
from __future__ import annotations

import copy

from ansible_collections.roamscan.qualys.plugins.plugin_utils._neighbors import apply_neighbor_evidence, neighbor_evidence

MAC_A, MAC_B = '02:77:00:00:0a:01', '02:77:00:00:0b:02'


def holding(mac, ip='10.77.0.100', held_since='2026-12-01T09:00:00Z', last_seen='2026-12-01T09:30:00Z',
            lease_expires='2026-12-01T11:00:00Z'):
    return {'mac': mac, 'ip': ip, 'lease_state': 'active', 'held_since': held_since, 'last_seen': last_seen,
            'lease_expires': lease_expires, 'ip_history': []}


def seen(mac, ip, time, kind='neighbor', event='seen'):
    return {'source': {'kind': kind, 'host': 'dhcp1'}, 'event': event, 'why': 'reachable',
            'identity': {'kind': 'mac', 'value': mac}, 'ip': ip, 'time': time}


def test_the_holder_seen_at_its_ip_refreshes_last_seen_only():
    records = {MAC_A: holding(MAC_A)}
    before = copy.deepcopy(records)
    evidence = neighbor_evidence(records, [seen(MAC_A.upper(), '10.77.0.100', '2026-12-01T09:40:00Z'),
                                           seen(MAC_A, '10.77.0.100', '2026-12-01T09:45:00Z', kind='probe')])
    assert evidence == {'refresh': {MAC_A: '2026-12-01T09:45:00Z'}, 'ended': []}
    assert apply_neighbor_evidence(records, evidence) == {MAC_A}
    assert records[MAC_A] == dict(before[MAC_A], last_seen='2026-12-01T09:45:00Z')


def test_old_or_after_lease_or_unrelated_sightings_change_nothing():
    records = {MAC_A: holding(MAC_A)}
    observations = [seen(MAC_A, '10.77.0.100', '2026-12-01T08:59:00Z'),   # before the holding began
                    seen(MAC_A, '10.77.0.100', '2026-12-01T09:10:00Z'),   # older than last_seen
                    seen(MAC_A, '10.77.0.100', '2026-12-01T11:00:01Z'),   # after the lease ran out
                    seen(MAC_A, '10.77.0.200', '2026-12-01T09:50:00Z'),   # an IP it holds no lease of
                    seen(MAC_B, '10.77.0.200', '2026-12-01T09:50:00Z'),   # no holding at all: never starts one
                    seen(MAC_B, '10.77.0.100', '2026-12-01T08:00:00Z'),   # another MAC, before the holding
                    seen(MAC_A, '10.77.0.100', '2026-12-01T09:50:00Z', kind='kea'),
                    seen(MAC_A, '10.77.0.100', '2026-12-01T09:50:00Z', event='end'),
                    seen('not-a-mac', '10.77.0.100', '2026-12-01T09:50:00Z'), {'garbage': True}]
    assert neighbor_evidence(records, observations) == {'refresh': {}, 'ended': []}


def test_another_mac_at_a_leased_ip_ends_the_holding_at_its_last_sighting():
    records = {MAC_A: holding(MAC_A)}
    evidence = neighbor_evidence(records, [seen(MAC_A, '10.77.0.100', '2026-12-01T09:40:00Z'),
                                           seen(MAC_B, '10.77.0.100', '2026-12-01T09:35:00Z')])
    assert evidence == {'refresh': {}, 'ended': [{'mac': MAC_A, 'ip': '10.77.0.100', 'seen_mac': MAC_B,
                                                  'time': '2026-12-01T09:35:00Z'}]}
    apply_neighbor_evidence(records, evidence)
    assert records[MAC_A]['lease_state'] == 'reassigned'
    assert records[MAC_A]['ip_history'] == [{'ip': '10.77.0.100', 'from': '2026-12-01T09:00:00Z', 'to': '2026-12-01T09:30:00Z'}]
