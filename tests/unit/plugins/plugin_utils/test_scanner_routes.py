# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils._decide import target_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._scanner_routes import (
    InvalidScannerRoutes,
    launch_options_for,
    parse_scanner_routes,
    route_groups,
)

ROUTES = {'10.91.0.0/16': 'vpn_scanner', '10.91.7.0/24': {'scanner_ids': [42]}, '10.30.0.0/16': ['lab_a', 'lab_b']}
OPTIONS = {'option_profile': 'Laptop Light Scan', 'scanner': ['office_scanner'], 'default_scanner': False,
           'scanners_in_ag': False, 'external_scanners': False, 'priority': 3}


def targets(*ips):
    return [target_of('02:77:00:00:00:%02x' % index, ip, overdue_since='') for index, ip in enumerate(ips)]


def test_targets_are_grouped_by_the_most_specific_route_and_the_rest_keep_the_cycle_scanner():
    groups = route_groups(targets('10.77.0.5', '10.91.0.9', '10.91.7.3', '10.30.1.1', '10.91.3.3'),
                          parse_scanner_routes(ROUTES), 'roamscan T')
    assert [(g['title'], g['selector'], [t['ip'] for t in g['targets']]) for g in groups] == [
        ('roamscan T', None, ['10.77.0.5']),
        ('roamscan T via scanner lab_a+lab_b', {'scanner': ['lab_a', 'lab_b']}, ['10.30.1.1']),
        ('roamscan T via scanner vpn_scanner', {'scanner': ['vpn_scanner']}, ['10.91.0.9', '10.91.3.3']),
        ('roamscan T via scanner_ids 42', {'scanner_ids': [42]}, ['10.91.7.3']),
    ]
    assert launch_options_for(OPTIONS, groups[3]['selector']) == {'option_profile': 'Laptop Light Scan', 'priority': 3,
                                                                  'scanner_ids': [42]}
    assert launch_options_for(OPTIONS, None) == OPTIONS


def test_without_routes_or_inside_one_route_there_is_one_launch():
    assert [g['title'] for g in route_groups(targets('10.77.0.5', '10.91.0.9'), [], 'roamscan T')] == ['roamscan T']
    one = route_groups(targets('10.91.0.9', '10.91.0.10'), parse_scanner_routes(ROUTES), 'roamscan T')
    assert [(g['title'], len(g['targets'])) for g in one] == [('roamscan T via scanner vpn_scanner', 2)]


def test_a_resumed_target_keeps_its_intent_title():
    resumed = [dict(targets('10.91.0.9')[0], title='roamscan OLD via scanner vpn_scanner'),
               dict(targets('10.77.0.5', '10.77.0.6')[1], title='roamscan OLD')]
    groups = route_groups(resumed, parse_scanner_routes(ROUTES), 'ignored')
    assert [(g['title'], g['selector']) for g in groups] == [
        ('roamscan OLD', None), ('roamscan OLD via scanner vpn_scanner', {'scanner': ['vpn_scanner']})]
    assert groups[0]['targets'] == [{'identity': '02:77:00:00:00:01', 'mac': '02:77:00:00:00:01', 'ip': '10.77.0.6'}]


@pytest.mark.parametrize('routes, message', [
    (['10.0.0.0/8'], 'must map CIDRs to scanner selectors'),
    ({'10.0.0.300/8': 'a'}, "not an IPv4 network: '10.0.0.300/8'"),
    ({'10.0.0.0/8': ''}, 'appliance name or a list of names'),
    ({'10.0.0.0/8': ['a,b']}, 'no comma'),
    ({'10.0.0.0/8': {'scanner': 'a', 'default_scanner': True}}, 'exactly one of scanner, scanner_ids'),
    ({'10.0.0.0/8': {'external_scanners': True}}, 'exactly one of'),
    ({'10.0.0.0/8': {'scanner_ids': ['42']}}, 'list of appliance ids'),
    ({'10.0.0.0/8': {'default_scanner': 'yes'}}, 'default_scanner can only be true'),
])
def test_bad_routes_name_the_variable_and_the_route(routes, message):
    with pytest.raises(InvalidScannerRoutes, match=message):
        parse_scanner_routes(routes)
