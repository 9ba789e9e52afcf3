#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: liveness_probe
short_description: Check that scan targets are up right now, and with the expected MAC, before a launch
version_added: 0.1.0
description:
  - Runs on a probe host on the targets' segment (by default the DHCP server that leased them) right before the
    cycle launches its scan, so that a laptop that left without releasing its lease is not scanned.
  - A target on the interface's own IPv4 subnet is asked by ARP only. ARP cannot be firewalled at the IP layer
    (a Windows laptop that drops ICMP still answers it), its answer names the MAC, which re-proves that the IP is
    still held by the expected laptop, and a host that does not answer ARP cannot answer anything else on that
    segment. Every MAC that answers must be the expected one, otherwise the result is C(mac_mismatch).
  - A target on another subnet (behind a router, such as a relayed DHCP subnet) is asked by ICMP echo, and those
    that stay silent by a TCP SYN to O(tcp_ports), where an accepting SYN-ACK or a refusing RST both prove the
    host is up. Its MAC cannot be seen.
  - All targets are asked in parallel from non-blocking sockets, one pass plus O(retries) for the silent ones,
    paced to O(rate) packets per second; 500 targets take about a second.
  - Every target must be inside O(allow), otherwise the module fails before sending a single packet.
  - Makes no Qualys call. Python standard library only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.probe
options:
  targets:
    description:
      - The addresses to check and the MAC each is expected to have (omit C(mac) where it cannot be known).
    type: list
    elements: dict
    required: true
  methods:
    description:
      - The methods that may be used, in their fixed order C(arp), C(icmp), C(tcp).
    type: list
    elements: str
    choices: [arp, icmp, tcp]
    default: [arp, icmp, tcp]
  tcp_ports:
    description:
      - The ports of the TCP SYN check (Windows listens on 445, 135 and 139 unless firewalled).
    type: list
    elements: int
    default: [445, 135, 139]
attributes:
  check_mode:
    support: full
    details:
      - The probe only asks; it changes nothing on this host, so it runs in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: linux
seealso:
  - module: roamscan.qualys.arp_sweep
  - module: roamscan.qualys.neighbor_table
'''

EXAMPLES = r'''
- name: Are they still there
  roamscan.qualys.liveness_probe:
    interface: vlan20
    allow: [10.20.0.0/24]
    targets:
      - {ip: 10.20.0.100, mac: '02:77:00:00:0a:01'}
  become: true
  register: liveness
'''

RETURN = r'''
results:
  description: One result per target, in the order of O(targets).
  returned: always
  type: list
  elements: dict
  contains:
    ip:
      description: The target.
      type: str
      sample: 10.20.0.100
    expected_mac:
      description: The MAC the target was given with (normalised), or null.
      type: str
      sample: '02:77:00:00:0a:01'
    alive:
      description: Something answered at that IP.
      type: bool
      sample: true
    method:
      description: The method that got the answer (C(arp), C(icmp), C(tcp)); for a silent target the last one tried.
      type: str
      sample: arp
    mac:
      description: The MAC that answered (ARP only); the unexpected one when several answered.
      type: str
      sample: '02:77:00:00:0a:01'
    macs:
      description: Every MAC that answered ARP for that IP.
      type: list
      elements: str
      sample: ['02:77:00:00:0a:01']
    reason:
      description: Null when the target is up with the expected MAC, else C(no_reply) or C(mac_mismatch).
      type: str
      sample: null
packets_sent:
  description: Packets sent per method.
  returned: always
  type: dict
  sample: {arp: 503}
elapsed:
  description: Seconds the probe took.
  returned: always
  type: float
  sample: 0.93
'''

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils._allow_list import ProbeRefused, parse_networks
from ansible_collections.roamscan.qualys.plugins.module_utils._liveness import probe
from ansible_collections.roamscan.qualys.plugins.module_utils._raw_probe import PROBE_ARGUMENT_SPEC, ProbeError, probe_settings_error

METHOD_ORDER = ('arp', 'icmp', 'tcp')


def main():
    module = AnsibleModule(
        argument_spec=dict(
            PROBE_ARGUMENT_SPEC,
            targets=dict(type='list', elements='dict', required=True),
            methods=dict(type='list', elements='str', choices=list(METHOD_ORDER), default=list(METHOD_ORDER)),
            tcp_ports=dict(type='list', elements='int', default=[445, 135, 139]),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problem = probe_settings_error(params)
    if not problem and not all(0 < port < 65536 for port in params['tcp_ports']):
        problem = 'tcp_ports must be 1-65535'
    if problem:
        module.fail_json(msg=problem)
    started = time.monotonic()
    try:
        results, sent = probe(params['targets'], params['interface'], parse_networks(params['allow'], 'allow'),
                              [method for method in METHOD_ORDER if method in params['methods']], params['tcp_ports'],
                              params['rate'], params['retries'], params['wait'])
    except (ProbeRefused, ProbeError) as exc:
        module.fail_json(msg=str(exc), results=[], packets_sent={})
    module.exit_json(changed=False, results=results, packets_sent=sent, elapsed=round(time.monotonic() - started, 3))


if __name__ == '__main__':
    main()
