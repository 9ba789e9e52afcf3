#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: host_last_scanned
short_description: Tell when each laptop was last really scanned, and which are overdue
version_added: 0.1.0
description:
  - Combines what the caller knows (RV(hosts[].last_scanned) of each laptop record) with the
    Qualys host list, read for all IPs in one request (more only when Qualys paginates, 1000 hosts
    per page).
  - An IP-tracked Qualys host record follows the IP, not the machine. A record's
    C(LAST_VULN_SCAN_DATETIME) is credited to a laptop only when it is not earlier than
    O(hosts[].held_since), the moment this MAC began holding this IP, so a reused IP never credits
    another machine's scan.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - roamscan.qualys.qualys.read_only
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.qualys
  - roamscan.qualys.qualys.attributes
options:
  hosts:
    description:
      - IPv4 address strings, or dicts with the keys below. Every entry is validated before any API call.
    type: list
    elements: raw
    required: true
    suboptions:
      ip:
        description: IPv4 address the laptop holds now.
        type: str
        required: true
      mac:
        description: MAC address of the laptop (any common notation; returned normalized).
        type: str
      last_scanned:
        description: Last scan known locally (ISO-8601 UTC, for example V(2026-11-28T07:03:14Z)).
        type: str
      held_since:
        description:
          - When this MAC began continuously holding O(hosts[].ip) (ISO-8601 UTC).
          - Without it a Qualys record for the IP is credited whatever machine held the IP then.
        type: str
  max_age_days:
    description:
      - A laptop is overdue when its last scan is older than this many days, or unknown.
    type: int
    default: 30
  use_qualys:
    description:
      - Look the IPs up in the Qualys host list. With V(false) only the local times count and no API
        call is made (connection options are still required by the argument spec).
    type: bool
    default: true
seealso:
  - module: roamscan.qualys.qualys_scan_launch
'''

EXAMPLES = r'''
- name: Which present laptops are overdue?
  roamscan.qualys.host_last_scanned:
    platform: EU2
    username: "{{ qualys_user }}"
    password: "{{ qualys_password }}"
    hosts:
      - ip: 10.20.4.7
        mac: "2:77:0:0:a:1"
        last_scanned: "2026-10-02T09:12:00Z"
        held_since: "2026-11-28T06:55:10Z"
      - 10.20.4.9
    max_age_days: 14
  register: coverage
  delegate_to: localhost

- name: Launch one scan for everything overdue
  roamscan.qualys.qualys_scan_launch:
    targets: "{{ coverage.overdue }}"
    title: roamscan overdue
    option_profile: Laptop Light Scan
    scanner: [laptop_scanner_1]
  when: coverage.overdue | length > 0
'''

RETURN = r'''
hosts:
  description: One entry per input host, in input order.
  returned: always
  type: list
  elements: dict
  contains:
    ip:
      description: Normalized IP.
      type: str
      sample: 10.20.4.7
    mac:
      description: Normalized MAC, or null when not given.
      type: str
      sample: "02:77:00:00:0a:01"
    last_scanned:
      description: Newest creditable scan time (ISO-8601 UTC), or null.
      type: str
      sample: "2026-11-28T07:16:25Z"
    source:
      description: Where RV(hosts[].last_scanned) came from - V(local), V(qualys) or V(none).
      type: str
      sample: qualys
    overdue:
      description: True when RV(hosts[].last_scanned) is unknown or older than O(max_age_days).
      type: bool
      sample: false
    qualys:
      description:
        - The Qualys host record used (the credited one, else the newest one), null when Qualys has none
          or O(use_qualys=false). Compare C(dns)/C(netbios) with the laptop's identity before trusting it.
      type: dict
      contains:
        dns:
          description: DNS name Qualys recorded.
          type: str
        netbios:
          description: NetBIOS name Qualys recorded.
          type: str
        tracking_method:
          description: How Qualys tracks the host (V(IP), V(DNS), V(NETBIOS), ...).
          type: str
        last_vuln_scan:
          description: C(LAST_VULN_SCAN_DATETIME) of the record.
          type: str
overdue:
  description: IPs of the overdue hosts, in input order.
  returned: always
  type: list
  elements: str
  sample: [10.20.4.9]
api_calls:
  description: Qualys API calls this task made (0 with O(use_qualys=false)).
  returned: always
  type: int
  sample: 1
api_usage:
  description:
    - Per Qualys API used (V(scan_launch), V(scan_list), V(scan_fetch), V(host_list)) - the calls of this task and
      what Qualys last answered about that API's limits; the scan cycle's budget governor keeps it in the store.
  returned: always
  type: dict
  sample: {"scan_list": {"calls": 1, "limit": 300, "window_sec": 3600, "remaining": 297, "to_wait_sec": 0,
           "concurrency_limit": 2, "concurrency_running": 1, "blocked_code": null}}
'''

import datetime

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import QualysError
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_hosts import (
    InvalidHost,
    assess,
    host_list_params,
    normalize_hosts,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_module import QualysModule


def main():
    module = QualysModule(
        argument_spec=dict(
            hosts=dict(type='list', elements='raw', required=True),
            max_age_days=dict(type='int', default=30),
            use_qualys=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['max_age_days'] < 0:
        module.fail_json(msg='max_age_days must be zero or more')
    try:
        hosts = normalize_hosts(params['hosts'])
    except InvalidHost as exc:
        module.fail_json(msg='invalid hosts, nothing looked up: %s' % exc)

    records = []
    if params['use_qualys'] and hosts:
        client = module.qualys_client()
        try:
            records = client.list_hosts(host_list_params([host['ip'] for host in hosts]))['hosts']
        except QualysError as exc:
            module.fail_qualys(exc)
    results = assess(hosts, records, datetime.datetime.now(datetime.timezone.utc), params['max_age_days'])
    module.exit_json(changed=False, hosts=results, overdue=[host['ip'] for host in results if host['overdue']],
                     api_calls=module.api_calls)


if __name__ == '__main__':
    main()
