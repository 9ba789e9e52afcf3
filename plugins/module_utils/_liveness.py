# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Is each target up right now, and with the MAC the controller expects? ARP, then ICMP, then TCP.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on probe hosts).

A target on the probe interface's own subnet is asked by ARP only: ARP cannot be firewalled at
L3 (a Windows laptop that drops ICMP still answers it), the answer names the MAC, and a host
that does not answer ARP cannot answer anything else on that segment either (the kernel would
need the same ARP answer first). A target elsewhere (a relayed DHCP subnet behind a router) is
asked by ICMP echo, and those that stay silent by a TCP SYN to the configured ports, where a
SYN-ACK or a RST both prove the host is up; neither can see its MAC.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._allow_list import ProbeRefused, refuse_outside
from ansible_collections.roamscan.qualys.plugins.module_utils import _raw_probe

NO_REPLY = 'no_reply'
MAC_MISMATCH = 'mac_mismatch'


def parse_targets(targets):
    """``[(ip, mac or None)]`` of ``[{ip, mac}]``; ProbeRefused for a malformed entry (nothing sent)."""
    parsed = []
    for index, target in enumerate(targets):
        if not isinstance(target, dict):
            raise ProbeRefused('targets[%d] is not a mapping, nothing sent' % index)
        try:
            ip = normalize_ip(target.get('ip'))
            mac = normalize_mac(target['mac']) if target.get('mac') else None
        except InvalidAddress as exc:
            raise ProbeRefused('targets[%d]: %s, nothing sent' % (index, exc)) from None
        parsed.append((ip, mac))
    return parsed


def verdict(ip, expected_mac, method, answered, macs=()):
    """The result of one target asked by ``method``. Every MAC that answered ARP must be the expected
    one; another MAC at the IP (an impostor, or the IP now used by someone else) is ``mac_mismatch``."""
    macs = list(macs)
    result = {'ip': ip, 'expected_mac': expected_mac, 'alive': answered, 'method': method, 'mac': None, 'macs': macs,
              'reason': None if answered else NO_REPLY}
    if macs:
        others = [mac for mac in macs if mac != expected_mac]
        result['mac'] = others[0] if others and expected_mac else macs[0]
        if expected_mac and others:
            result['reason'] = MAC_MISMATCH
    return result


def probe(targets, interface, allowed, methods, tcp_ports, rate, retries, wait, rounds=_raw_probe):
    """Probe ``targets`` (``[{ip, mac}]``, all inside ``allowed`` or nothing is sent) with ``methods``
    (in the order arp, icmp, tcp). Returns ``(results in target order, {method: packets sent})``.
    """
    parsed = parse_targets(targets)
    refuse_outside([ip for ip, dummy in parsed], allowed)
    dummy, own_ip, segment = rounds.interface_info(interface)
    on_segment, elsewhere = [], []
    for ip, dummy in parsed:
        # without an address of its own the interface sends ARP probes (sender 0.0.0.0) to every target
        arp = 'arp' in methods and (segment is None or ipaddress.IPv4Address(ip) in segment)
        (on_segment if arp else elsewhere).append(ip)
    sent, answered, asked_by_arp = {}, {}, set(on_segment)
    if on_segment:
        macs, sent['arp'] = rounds.arp_round(interface, on_segment, rate, retries, wait)
        answered.update((ip, ('arp', True, macs[ip])) for ip in macs)
    silent = elsewhere
    for method in [method for method in ('icmp', 'tcp') if method in methods]:
        if not silent or (method == 'tcp' and not tcp_ports):
            continue
        if method == 'icmp':
            up, sent['icmp'] = rounds.icmp_round(interface, silent, rate, retries, wait)
        else:
            up, sent['tcp'] = rounds.tcp_round(interface, silent, tcp_ports, rate, wait)
        answered.update((ip, (method, ip in up, ())) for ip in silent)
        silent = [ip for ip in silent if ip not in up]
    results = []
    for ip, mac in parsed:
        method, up, macs = answered.get(ip, ('arp' if ip in asked_by_arp else None, False, ()))
        results.append(verdict(ip, mac, method, up, macs))
    return results, sent
