# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VPN presence in the cycle (real ansible-playbook, Qualys simulator): an OpenVPN server in group vpn_servers
whose hook spool and status file this lab writes. A connected certificate is launched with its tunnel IP, credited
only while its session lasts until the scan was seen finished, and a disconnect before that gives no credit; the
spool is acknowledged like a DHCP server's."""
from __future__ import annotations

import pytest

from cycle_lab import CycleLab, launch_call_ips, launch_calls, summary_of

ALICE, BOB = 'laptop-vpn-01', 'laptop-vpn-02'
ALICE_IP, BOB_IP = '10.88.0.2', '10.88.0.3'


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env, vpn_servers={'vpn1': 'openvpn'})


def connect(lab, name, ip, kind='connect'):
    """The rs2 record the OpenVPN hook writes (no boot clock: timed by its spool segment)."""
    lab.append_spool('vpn1', 'rs2 - - 0 openvpn %s vpn_cert %s %s - - platform=linux .\n' % (kind, name, ip))


def run(lab, sim):
    proc = lab.run(sim)
    assert proc.returncode == 0, proc.stdout[-4000:]
    return summary_of(proc)


def test_a_connected_certificate_is_scanned_down_the_tunnel_and_credited_while_connected(lab, qualys_sim):
    connect(lab, ALICE, ALICE_IP)
    connect(lab, BOB, BOB_IP)
    lab.write_openvpn_status('vpn1', [(ALICE, ALICE_IP), (BOB, BOB_IP)])
    first = run(lab, qualys_sim)
    assert [launch_call_ips(call) for call in launch_calls(qualys_sim)] == [[ALICE_IP, BOB_IP]]
    assert first['dhcp_servers_reported'] == ['dhcp1', 'vpn1'] and first['acknowledged'] == ['dhcp1', 'vpn1']
    records = lab.records()
    assert records['vpn_cert:' + ALICE]['pending']['ip'] == ALICE_IP and records['vpn_cert:' + ALICE]['mac'] is None
    assert records['vpn_cert:' + ALICE]['source'] == {'kind': 'openvpn', 'host': 'vpn1'}

    # bob disconnects before the scan is seen finished; alice stays
    connect(lab, BOB, BOB_IP, kind='disconnect')
    # written before the scan ends: the status file and Qualys both count whole seconds, so not in the same second
    lab.write_openvpn_status('vpn1', [(ALICE, ALICE_IP)], seconds_ago=2)
    qualys_sim.state.scan_action('*', 'process')
    second = run(lab, qualys_sim)
    # the status file was read before the scan was seen finished: alice waits for a later sighting, bob is refused
    assert second['credited'] == [] and [item['identity'] for item in second['not_credited']] == ['vpn_cert:' + BOB]
    lab.write_openvpn_status('vpn1', [(ALICE, ALICE_IP)])
    third = run(lab, qualys_sim)
    assert third['credited'] == ['vpn_cert:' + ALICE] and third['launched'] == []
    records = lab.records()
    assert records['vpn_cert:' + ALICE]['last_scanned'] and records['vpn_cert:' + BOB]['last_scanned'] is None
    assert records['vpn_cert:' + BOB]['lease_state'] == 'released'
    assert len(launch_calls(qualys_sim)) == 1

    # bob comes back: still overdue, scanned again
    connect(lab, BOB, '10.88.0.7')
    lab.write_openvpn_status('vpn1', [(ALICE, ALICE_IP), (BOB, '10.88.0.7')])
    run(lab, qualys_sim)
    assert launch_call_ips(launch_calls(qualys_sim)[-1]) == ['10.88.0.7']


def test_a_tunnel_ip_no_longer_in_the_status_file_is_not_launched(lab, qualys_sim):
    connect(lab, ALICE, ALICE_IP)          # the disconnect never reached the spool
    lab.write_openvpn_status('vpn1', [])
    summary = run(lab, qualys_sim)
    assert launch_calls(qualys_sim) == []
    assert summary['dropped_at_launch'] == [{'identity': 'vpn_cert:' + ALICE, 'mac': None, 'ip': ALICE_IP, 'reason': 'not_leased'}]


def test_a_vpn_server_of_unknown_kind_stops_the_cycle_before_anything_is_read(lab, qualys_sim):
    lab.set_server_vars('vpn1', roamscan_vpn_server='pptp')
    connect(lab, ALICE, ALICE_IP)
    proc = lab.run(qualys_sim)
    assert proc.returncode != 0 and summary_of(proc)['fault']['stage'] == 'collect'
    assert 'roamscan_vpn_server' in summary_of(proc)['fault']['msg'] and lab.records() == {}
