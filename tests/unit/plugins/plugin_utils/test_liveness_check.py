# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which probe host asks which target, and which targets the answers drop from the launch."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils._liveness_check import (
    InvalidProbeRoutes,
    apply_probe,
    parse_routes,
    probe_plan,
    probe_reports,
)

MAC_A, MAC_B, MAC_C = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'
RECORDS = {MAC_A: {'dhcp_server': 'dhcp1'}, MAC_B: {'dhcp_server': 'dhcp1'}, MAC_C: {'dhcp_server': None}}


def test_most_specific_route_wins_and_the_leasing_server_is_the_default():
    routes = parse_routes({'10.20.0.0/16': 'router1', '10.20.5.0/24': 'probe5', '10.30.0.0/16': 'bare'})
    interfaces = {'dhcp1': 'br0', 'probe5': 'vlan5', 'router1': 'vlan20'}
    plan, unprobed = probe_plan([{'identity': MAC_A, 'mac': MAC_A, 'ip': '10.20.5.7'}, {'identity': MAC_B, 'mac': MAC_B, 'ip': '10.20.9.9'},
                                 {'identity': MAC_A, 'mac': MAC_A, 'ip': '10.77.0.100'}, {'identity': MAC_C, 'mac': MAC_C, 'ip': '10.99.0.1'},
                                 {'identity': MAC_C, 'mac': MAC_C, 'ip': '10.30.0.1'}], routes, RECORDS, interfaces.get)
    assert plan == [
        {'host': 'dhcp1', 'interface': 'br0', 'allow': ['10.77.0.100/32'], 'targets': [{'ip': '10.77.0.100', 'mac': MAC_A}]},
        {'host': 'probe5', 'interface': 'vlan5', 'allow': ['10.20.5.0/24'], 'targets': [{'ip': '10.20.5.7', 'mac': MAC_A}]},
        {'host': 'router1', 'interface': 'vlan20', 'allow': ['10.20.0.0/16'], 'targets': [{'ip': '10.20.9.9', 'mac': MAC_B}]}]
    assert unprobed == {'10.99.0.1': 'no probe host: no roamscan_probe_routes entry and no leasing DHCP server',
                        '10.30.0.1': 'roamscan_probe_interface is not set for bare'}


@pytest.mark.parametrize('routes', [['10.0.0.0/8'], {'10.0.0.0/33': 'x'}, {'10.0.0.0/8': ''}])
def test_bad_routes_are_refused(routes):
    with pytest.raises(InvalidProbeRoutes):
        parse_routes(routes)


def test_dead_and_impostor_targets_are_dropped_and_unprobed_ones_kept():
    launch = [{'identity': MAC_A, 'mac': MAC_A, 'ip': '10.77.0.100'}, {'identity': MAC_B, 'mac': MAC_B, 'ip': '10.77.0.101'},
              {'identity': MAC_C, 'mac': MAC_C, 'ip': '10.77.0.102'}, {'identity': MAC_A, 'mac': MAC_A, 'ip': '10.77.0.103'}]
    results = [{'ip': '10.77.0.100', 'expected_mac': MAC_A, 'alive': True, 'method': 'arp', 'macs': [MAC_A], 'reason': None},
               {'ip': '10.77.0.101', 'expected_mac': MAC_B, 'alive': False, 'method': 'arp', 'macs': [], 'reason': 'no_reply'},
               {'ip': '10.77.0.102', 'expected_mac': MAC_C, 'alive': True, 'method': 'arp', 'macs': [MAC_A],
                'reason': 'mac_mismatch'}]
    kept, dropped, not_probed = apply_probe(launch, results, {'10.77.0.103': 'probe on probe5 did not run: boom'})
    assert kept == [launch[0], launch[3]]
    assert dropped == [{'identity': MAC_B, 'mac': MAC_B, 'ip': '10.77.0.101', 'reason': 'no_reply', 'method': 'arp', 'seen_macs': []},
                       {'identity': MAC_C, 'mac': MAC_C, 'ip': '10.77.0.102', 'reason': 'mac_mismatch', 'method': 'arp', 'seen_macs': [MAC_A]}]
    assert not_probed == [dict(launch[3], reason='probe on probe5 did not run: boom')]


def test_probe_reports_of_a_registered_loop():
    good = {'item': {'host': 'dhcp1', 'targets': [{'ip': '10.77.0.100', 'mac': MAC_A}]},
            'results': [{'ip': '10.77.0.100', 'expected_mac': MAC_A, 'reason': None}, 'junk']}
    failed = {'item': {'host': 'probe5', 'targets': [{'ip': '10.20.5.7', 'mac': MAC_B}]}, 'failed': True,
              'msg': 'raw sockets need CAP_NET_RAW'}
    unreachable = {'item': {'host': 'router1', 'targets': [{'ip': '10.20.9.9', 'mac': MAC_C}]}, 'unreachable': True,
                   'msg': 'ssh: timeout'}
    results, unprobed = probe_reports({'results': [good, failed, unreachable, {'item': 'x'}, 'junk']})
    assert results == [{'ip': '10.77.0.100', 'expected_mac': MAC_A, 'reason': None}]
    assert unprobed == {'10.20.5.7': 'probe on probe5 did not run: raw sockets need CAP_NET_RAW',
                        '10.20.9.9': 'probe on router1 did not run: ssh: timeout'}
    assert probe_reports(None) == ([], {})
