#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_check.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_check
short_description: Check the scan cycle settings and that the laptop store keeps scan history
version_added: 0.2.0
description:
  - The first step of the C(roamscan.qualys.scan_overdue) cycle - before anything is collected, check the cycle
    settings (see the notes; the option profile and scanner choice by the rule M(roamscan.qualys.qualys_scan_launch)
    applies) and that the laptop store is durable.
  - Returns the inventory hosts of the cycle's DHCP group and VPN group (C(roamscan_vpn_group)), so the playbook
    collects from exactly those; every VPN server must set C(roamscan_vpn_server) (V(openvpn), V(ocserv) or
    V(wireguard)), else the cycle stops here naming the hosts.
  - Takes the laptop store's cycle lease (C(roamscan_cycle_lock_seconds)), so that one cycle at a time works on a
    store, also across controllers. When another cycle holds it, the run ends at once with the holder's host and
    start time in the summary, green (C(roamscan_when_locked=skip)) or failed (V(fail)); it never launches.
  - Reads and writes no laptop record.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options: {}
seealso:
  - module: roamscan.qualys.cycle_remember
"""

EXAMPLES = r"""
- name: Collect | Check the cycle settings and the laptop store
  roamscan.qualys.cycle_check:
  register: roamscan_checked
"""

RETURN = r"""
fact_cache:
  description: The cache plugin holding the laptop records.
  returned: success
  type: str
  sample: ansible.builtin.jsonfile
dhcp_servers:
  description: Inventory hosts of the group C(roamscan_dhcp_group) names.
  returned: success
  type: list
  elements: str
  sample: [dhcp1.example.net]
vpn_servers:
  description: Inventory hosts of the group C(roamscan_vpn_group) names.
  returned: success
  type: list
  elements: str
  sample: [vpn1.example.net]
presence_hosts:
  description: Every host the cycle collects presence from (RV(dhcp_servers) and RV(vpn_servers)), each once.
  returned: success
  type: list
  elements: str
  sample: [dhcp1.example.net, vpn1.example.net]
device_aliases:
  description: The operator's alias list as read - C(devices) linked, and the entries C(skipped) with the reason.
  returned: success
  type: dict
  sample: {devices: 2, skipped: [{source: roamscan_device_aliases, entry: "roamscan_device_aliases[2]", reason: "..."}]}
lock:
  description:
    - The cycle lease this run holds on the laptop store (one cycle at a time per store, across controllers), renewed
      by every later stage and released by C(cycle_summary). None in check mode, when another cycle holds it, and for
      a cache plugin that is neither a file cache nor community.general.redis.
  returned: success
  type: dict
  sample: {token: 7, owner: awx, host: controller1, pid: 4242, since: 1764585600.0, expires: 1764587400.0, held: true, seconds: 1800}
took_over:
  description:
    - When the lease this run took had expired while still held - the cycle holding it was killed or its controller
      stopped - who held it and since when; this run resumes what that cycle left undone (files cache only; a
      community.general.redis lease that expired is gone). None otherwise.
  returned: success
  type: dict
  sample: {host: controller1, pid: 4242, since: 1764585600.0, expires: 1764587400.0}
held_elsewhere:
  description:
    - When another cycle holds the lease and C(roamscan_when_locked) is V(skip), who holds it, since when, and the
      message the summary shows; this run then reads and writes nothing. None otherwise.
  returned: success
  type: dict
  sample: {host: controller2, pid: 4343, since: 1764585600.0, expires: 1764587400.0, msg: another cycle is running on controller2 ...}
"""
