#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: neighbor_table
short_description: Read the host's neighbour (ARP) table as presence observations
version_added: 0.1.0
description:
  - Runs on a host attached to the laptops' network (a DHCP server, a router, a probe host) and returns its IPv4
    neighbour table, read with C(ip -statistics -json -4 neigh show), as presence observations
    (source C(neighbor), identity the MAC, the IP, the kernel's state).
  - Passive; sends no packet and makes no Qualys call. It is the continual "online list" the controller folds
    into the laptop records (a neighbour entry for the MAC that holds a lease refreshes its last sighting; an
    entry naming another MAC at a leased IP is evidence the holding ended).
  - Only entries the kernel has confirmed count. C(REACHABLE) was confirmed within the kernel's
    reachable time (15 to 45 seconds by default); C(STALE), C(DELAY) and C(PROBE) still name the MAC that last
    answered at that IP and count as of their last confirmation. C(FAILED), C(INCOMPLETE), C(NOARP),
    C(PERMANENT) and C(NONE) never count.
  - Every observation's C(time) is the time of the kernel's last confirmation of that entry,
    never the read time.
  - Python standard library only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  interfaces:
    description:
      - Only entries on these interfaces (the laptops' networks). All interfaces when empty.
    type: list
    elements: str
    default: []
  max_age:
    description:
      - Leave out entries the kernel last confirmed longer ago than this many seconds.
    type: int
    default: 300
  source_host:
    description:
      - The name given as the C(host) of each observation's C(source). Defaults to this host's name.
    type: str
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; check mode changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: linux
notes:
  - Needs C(ip) from iproute2 (any user can read the neighbour table; no C(become)).
seealso:
  - module: roamscan.qualys.arp_sweep
  - module: roamscan.qualys.liveness_probe
'''

EXAMPLES = r'''
- name: Which laptops has the DHCP server talked to lately
  roamscan.qualys.neighbor_table:
    interfaces: [vlan20]
  register: neighbors
'''

RETURN = r'''
observations:
  description: One observation per confirmed entry, sorted by IP, in the shape of M(roamscan.qualys.presence_events).
  returned: always
  type: list
  elements: dict
  sample:
    - id: null
      source: {kind: neighbor, host: router1}
      event: seen
      why: reachable
      identity: {kind: mac, value: '02:77:00:00:0a:01'}
      ip: 10.77.0.100
      time: '2026-11-28T07:04:51Z'
      until: null
      aliases: {dev: vlan20}
      hostname: null
      authority: log
skipped:
  description: Entries left out, per reason (C(not_confirmed), C(too_old), C(other_interface), C(bad_address), C(malformed)).
  returned: always
  type: dict
  sample: {not_confirmed: 2}
now:
  description: This host's clock at read time (ISO-8601 UTC).
  returned: always
  type: str
  sample: '2026-11-28T07:05:00Z'
'''

import platform
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils._neighbor_table import NEIGH_COMMAND, NeighborTableError, parse_neighbors
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interfaces=dict(type='list', elements='str', default=[]),
            max_age=dict(type='int', default=300),
            source_host=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['max_age'] < 0:
        module.fail_json(msg='max_age must be zero or more')
    command = [module.get_bin_path('ip', required=True)] + list(NEIGH_COMMAND)
    now = time.time()
    rc, out, err = module.run_command(command, environ_update={'LANG': 'C'})
    if rc != 0:
        module.fail_json(msg='ip neigh failed (rc=%d): %s' % (rc, err.strip()[-500:]))
    try:
        found, skipped = parse_neighbors(out, now, params['source_host'] or platform.node(), params['max_age'],
                                         interfaces=params['interfaces'])
    except NeighborTableError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, observations=found, skipped=skipped, now=iso_time(now))


if __name__ == '__main__':
    main()
