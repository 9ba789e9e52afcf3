# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The neighbour table as observations: which kernel states count, and as of when."""
from __future__ import annotations

import json

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._neighbor_table import NeighborTableError, parse_neighbors
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time

NOW = 1796000000


def entry(ip, mac, state, confirmed=5, dev='br0'):
    found = {'dst': ip, 'dev': dev, 'used': 1, 'confirmed': confirmed, 'updated': 1, 'probes': 0, 'state': [state]}
    if mac is not None:
        found['lladdr'] = mac
    return found


def parse(entries, max_age=300, interfaces=None):
    return parse_neighbors(json.dumps(entries), NOW, 'dhcp1', max_age, interfaces=interfaces)


def test_reachable_entry_is_a_sighting_at_its_confirmation_time():
    found, skipped = parse([entry('10.77.0.100', '02:77:00:00:0A:01', 'REACHABLE', confirmed=7)])
    assert found == [{'id': None, 'source': {'kind': 'neighbor', 'host': 'dhcp1'}, 'event': 'seen', 'why': 'reachable',
                      'identity': {'kind': 'mac', 'value': '02:77:00:00:0a:01'}, 'ip': '10.77.0.100',
                      'time': iso_time(NOW - 7), 'until': None, 'aliases': {'dev': 'br0'}, 'hostname': None,
                      'authority': 'log'}]
    assert skipped == {}


@pytest.mark.parametrize('state', ['STALE', 'DELAY', 'PROBE'])
def test_unconfirmed_states_count_only_as_of_their_last_confirmation(state):
    found, dummy = parse([entry('10.77.0.100', '02:77:00:00:0a:01', state, confirmed=200)])
    assert [(item['why'], item['time']) for item in found] == [(state.lower(), iso_time(NOW - 200))]
    assert parse([entry('10.77.0.100', '02:77:00:00:0a:01', state, confirmed=301)]) == ([], {'too_old': 1})


@pytest.mark.parametrize('state', ['FAILED', 'INCOMPLETE', 'NOARP', 'PERMANENT', 'NONE'])
def test_failed_incomplete_and_configured_entries_never_count(state):
    assert parse([entry('10.77.0.100', '02:77:00:00:0a:01' if state not in ('FAILED', 'INCOMPLETE') else None, state,
                        confirmed=0)]) == ([], {'not_confirmed': 1})


def test_bad_entries_are_counted_and_the_rest_is_kept():
    entries = [entry('10.77.0.300', '02:77:00:00:0a:01', 'REACHABLE'), entry('10.77.0.101', 'zz', 'REACHABLE'),
               entry('10.77.0.102', '00:00:00:00:00:00', 'REACHABLE'), 'garbage',
               dict(entry('10.77.0.103', '02:77:00:00:0a:03', 'REACHABLE'), confirmed='soon'),
               entry('10.77.0.9', '02:77:00:00:0a:09', 'REACHABLE'), entry('10.77.0.10', '02:77:00:00:0a:10', 'REACHABLE', dev='eth9')]
    found, skipped = parse(entries, interfaces=['br0'])
    assert [item['ip'] for item in found] == ['10.77.0.9']
    assert skipped == {'bad_address': 3, 'malformed': 1, 'no_confirmation_time': 1, 'other_interface': 1}


def test_observations_are_sorted_by_address_and_hostile_interface_names_are_dropped():
    found, dummy = parse([entry('10.77.0.20', '02:77:00:00:0a:02', 'REACHABLE', dev='br0;rm -rf'),
                          entry('10.77.0.3', '02:77:00:00:0a:01', 'STALE')])
    assert [(item['ip'], item['aliases']) for item in found] == [('10.77.0.3', {'dev': 'br0'}), ('10.77.0.20', {})]


@pytest.mark.parametrize('text', ['not json', '{"dst": 1}'])
def test_output_that_is_not_the_json_list_fails_clearly(text):
    with pytest.raises(NeighborTableError):
        parse_neighbors(text, NOW, 'dhcp1', 300)
