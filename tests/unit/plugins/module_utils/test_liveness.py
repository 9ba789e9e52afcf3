# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The liveness chain (ARP on the segment, ICMP then TCP elsewhere) and the ARP sweep, over recorded rounds;
the frames and echo packets the rounds send and read."""
from __future__ import annotations

import ipaddress
import socket
import struct

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils import _raw_probe
from ansible_collections.roamscan.qualys.plugins.module_utils._allow_list import ProbeRefused, parse_networks
from ansible_collections.roamscan.qualys.plugins.module_utils._arp_sweep import sweep
from ansible_collections.roamscan.qualys.plugins.module_utils._liveness import probe

MAC_A, MAC_B, OWN = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:00:00:00:00:fe'
ALLOW = parse_networks(['10.77.0.0/24', '10.80.0.0/24'], 'allow')


class Rounds:
    """Answers per method as a real network would give them; records what was asked."""

    def __init__(self, arp=None, icmp=(), tcp=(), segment='10.77.0.0/24'):
        self.arp, self.icmp, self.tcp = arp or {}, set(icmp), set(tcp)
        self.segment = ipaddress.IPv4Network(segment) if segment else None
        self.asked = []

    def interface_info(self, interface):
        return OWN, str(next(self.segment.hosts())) if self.segment else None, self.segment

    def arp_round(self, interface, addresses, rate, retries, wait):
        self.asked.append(('arp', list(addresses)))
        return {ip: self.arp[ip] for ip in addresses if ip in self.arp}, len(addresses)

    def icmp_round(self, interface, addresses, rate, retries, wait):
        self.asked.append(('icmp', list(addresses)))
        return {ip: True for ip in addresses if ip in self.icmp}, len(addresses)

    def tcp_round(self, interface, addresses, ports, rate, wait):
        self.asked.append(('tcp', list(addresses)))
        return {ip: ports[0] for ip in addresses if ip in self.tcp}, len(addresses) * len(ports)


def run(rounds, targets, methods=('arp', 'icmp', 'tcp')):
    return probe(targets, 'br0', ALLOW, list(methods), [445, 135], 1000, 1, 0.2, rounds=rounds)


def test_on_the_segment_arp_decides_and_proves_the_mac():
    rounds = Rounds(arp={'10.77.0.100': [MAC_A], '10.77.0.101': [MAC_A], '10.77.0.102': [MAC_B, MAC_A]})
    results, sent = run(rounds, [{'ip': '10.77.0.100', 'mac': MAC_A}, {'ip': '10.77.0.101', 'mac': MAC_B},
                                 {'ip': '10.77.0.102', 'mac': MAC_A}, {'ip': '10.77.0.103', 'mac': MAC_A}])
    assert [(r['alive'], r['method'], r['mac'], r['reason']) for r in results] == [
        (True, 'arp', MAC_A, None), (True, 'arp', MAC_A, 'mac_mismatch'), (True, 'arp', MAC_B, 'mac_mismatch'),
        (False, 'arp', None, 'no_reply')]
    # silence on the segment is final: no ICMP or TCP would get through without the same ARP answer
    assert rounds.asked == [('arp', ['10.77.0.100', '10.77.0.101', '10.77.0.102', '10.77.0.103'])]
    assert sent == {'arp': 4}


def test_off_the_segment_icmp_then_tcp_for_the_silent_ones():
    rounds = Rounds(icmp={'10.80.0.5'}, tcp={'10.80.0.6'})
    results, sent = run(rounds, [{'ip': '10.80.0.5', 'mac': MAC_A}, {'ip': '10.80.0.6'}, {'ip': '10.80.0.7'}])
    assert [(r['alive'], r['method'], r['reason']) for r in results] == [
        (True, 'icmp', None), (True, 'tcp', None), (False, 'tcp', 'no_reply')]
    assert rounds.asked == [('icmp', ['10.80.0.5', '10.80.0.6', '10.80.0.7']), ('tcp', ['10.80.0.6', '10.80.0.7'])]
    assert sent == {'icmp': 3, 'tcp': 4}


def test_without_arp_a_segment_target_is_asked_by_icmp():
    rounds = Rounds(icmp={'10.77.0.100'})
    results, dummy = run(rounds, [{'ip': '10.77.0.100', 'mac': MAC_A}], methods=['icmp'])
    assert (results[0]['alive'], results[0]['method']) == (True, 'icmp')


def test_targets_outside_the_allow_list_or_malformed_send_nothing():
    for targets in ([{'ip': '10.77.0.100'}, {'ip': '192.168.1.1'}], [{'ip': '10.77.0.100', 'mac': 'nope'}], ['10.77.0.1']):
        rounds = Rounds(arp={'10.77.0.100': [MAC_A]})
        with pytest.raises(ProbeRefused, match='nothing sent'):
            run(rounds, targets)
        assert rounds.asked == []


def test_sweep_yields_an_observation_per_answer_and_refuses_off_segment_subnets():
    rounds = Rounds(arp={'10.77.0.5': [MAC_A], '10.77.0.6': [MAC_A, MAC_B]})
    found, addresses, sent = sweep('br0', ['10.77.0.4/30'], ALLOW, 100, 1, 0.2, 1796000000, 'probe1', rounds=rounds)
    assert [(o['ip'], o['identity']['value'], o['source'], o['why']) for o in found] == [
        ('10.77.0.5', MAC_A, {'kind': 'probe', 'host': 'probe1'}, 'arp_reply'),
        ('10.77.0.6', MAC_A, {'kind': 'probe', 'host': 'probe1'}, 'arp_reply'),
        ('10.77.0.6', MAC_B, {'kind': 'probe', 'host': 'probe1'}, 'arp_reply')]
    assert (addresses, sent) == (2, 2)
    with pytest.raises(ProbeRefused, match='not on the segment'):
        sweep('br0', ['10.80.0.0/30'], ALLOW, 100, 1, 0.2, 1796000000, 'probe1', rounds=rounds)
    assert rounds.asked == [('arp', ['10.77.0.5', '10.77.0.6'])]


def test_arp_request_and_reply_frames():
    frame = _raw_probe.arp_frame(OWN, '10.77.0.1', '10.77.0.100')
    assert len(frame) == 42 and frame[:6] == b'\xff' * 6 and frame[12:14] == b'\x08\x06'
    assert struct.unpack('!H', frame[20:22]) == (1,) and socket.inet_ntoa(frame[38:42]) == '10.77.0.100'
    assert socket.inet_ntoa(_raw_probe.arp_frame(OWN, None, '10.77.0.100')[28:32]) == '0.0.0.0'
    assert _raw_probe.parse_arp_reply(frame) is None   # a request is not an answer
    reply = frame[:20] + struct.pack('!H', 2) + bytes.fromhex(MAC_A.replace(':', '')) + socket.inet_aton('10.77.0.100') + frame[32:]
    assert _raw_probe.parse_arp_reply(reply) == ('10.77.0.100', MAC_A)
    assert _raw_probe.parse_arp_reply(reply[:30]) is None


def test_echo_request_checksum_and_reply_matching():
    packet = _raw_probe.echo_request(0x1234, 1)
    assert _raw_probe._checksum(packet) == 0
    ip_header = bytes([0x45]) + b'\0' * 19
    reply = ip_header + bytes([0, 0]) + packet[2:]
    assert _raw_probe.parse_echo_reply(reply, 0x1234)
    assert not _raw_probe.parse_echo_reply(reply, 0x4321)
    assert not _raw_probe.parse_echo_reply(ip_header + packet, 0x1234)   # a request, not a reply
    assert not _raw_probe.parse_echo_reply(b'\x45', 0x1234)


def test_pacer_keeps_the_rate_and_listens_while_it_waits():
    clock = [0.0]
    listened = []

    def receive(timeout):
        listened.append(timeout)
        clock[0] += timeout

    pacer = _raw_probe._Pacer(100, receive, clock=lambda: clock[0])
    for dummy in range(5):
        pacer.send(lambda: None)
    assert pacer.sent == 5 and clock[0] == pytest.approx(0.04)
    # it reads answers after every send and while it waits between sends
    assert listened.count(0) == 5 and [wait for wait in listened if wait] == pytest.approx([0.01] * 4)
