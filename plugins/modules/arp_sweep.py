#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: arp_sweep
short_description: Find who is on the laptops' segment now with an ARP sweep of allow-listed subnets
version_added: 0.1.0
description:
  - Active discovery, opt-in. Runs on a probe host attached to the laptops' segment and sends one ARP who-has
    per address of O(subnets) (plus O(retries) for the silent ones), paced to O(rate) packets per second,
    then returns every answer as a presence observation (source C(probe), identity the MAC that answered, the IP).
  - ARP cannot be firewalled at the IP layer, so a laptop that drops ICMP (the Windows firewall's default) still
    answers.
  - Refuses to run, sending nothing, when O(allow) is empty, when a subnet is not wholly inside O(allow), when a
    subnet is not on the interface's own IPv4 subnet (ARP does not cross a router), or when the subnets hold more
    than 4096 addresses.
  - Makes no Qualys call. Python standard library only (raw C(AF_PACKET) socket).
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.probe
options:
  subnets:
    description:
      - The networks (CIDR) to sweep; each must lie inside O(allow).
    type: list
    elements: str
    required: true
  source_host:
    description:
      - The name given as the C(host) of each observation's C(source). Defaults to this host's name.
    type: str
attributes:
  check_mode:
    support: full
    details:
      - The sweep only asks; it changes nothing on this host, so it runs in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: linux
seealso:
  - module: roamscan.qualys.neighbor_table
  - module: roamscan.qualys.liveness_probe
'''

EXAMPLES = r'''
- name: Sweep the laptop VLAN from the probe host
  roamscan.qualys.arp_sweep:
    interface: vlan20
    subnets: [10.20.0.0/24]
    allow: [10.20.0.0/24]
    rate: 200
  become: true
  register: swept
'''

RETURN = r'''
observations:
  description:
    - One observation per answer (two MACs answering for one IP give two), in the shape of
      M(roamscan.qualys.presence_events); C(why) is C(arp_reply), C(time) the time of the sweep.
  returned: always
  type: list
  elements: dict
  sample:
    - id: null
      source: {kind: probe, host: probe1}
      event: seen
      why: arp_reply
      identity: {kind: mac, value: '02:77:00:00:0a:01'}
      ip: 10.20.0.100
      time: '2026-11-28T07:05:00Z'
      until: null
      aliases: {}
      hostname: null
      authority: log
addresses:
  description: How many addresses were asked.
  returned: always
  type: int
  sample: 254
packets_sent:
  description: ARP requests sent (at most addresses times 1 + O(retries)).
  returned: always
  type: int
  sample: 380
now:
  description: This host's clock at the start of the sweep (ISO-8601 UTC).
  returned: always
  type: str
  sample: '2026-11-28T07:05:00Z'
'''

import platform
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils._allow_list import ProbeRefused, parse_networks
from ansible_collections.roamscan.qualys.plugins.module_utils._arp_sweep import sweep
from ansible_collections.roamscan.qualys.plugins.module_utils._raw_probe import PROBE_ARGUMENT_SPEC, ProbeError, probe_settings_error
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time


def main():
    module = AnsibleModule(
        argument_spec=dict(
            PROBE_ARGUMENT_SPEC,
            subnets=dict(type='list', elements='str', required=True),
            source_host=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    problem = probe_settings_error(params)
    if problem:
        module.fail_json(msg=problem)
    now = time.time()
    try:
        found, addresses, sent = sweep(params['interface'], params['subnets'], parse_networks(params['allow'], 'allow'),
                                       params['rate'], params['retries'], params['wait'], now,
                                       params['source_host'] or platform.node())
    except (ProbeRefused, ProbeError) as exc:
        module.fail_json(msg=str(exc), observations=[], addresses=0, packets_sent=0)
    module.exit_json(changed=False, observations=found, addresses=addresses, packets_sent=sent, now=iso_time(now))


if __name__ == '__main__':
    main()
