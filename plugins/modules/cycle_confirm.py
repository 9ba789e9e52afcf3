#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_confirm.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_confirm
short_description: Credit the laptops whose roamscan scan finished and found them
version_added: 0.2.0
description:
  - Stage C(confirm) of the C(roamscan.qualys.scan_overdue) cycle.
  - A laptop is credited only if its scan is Finished and processed, found its IP alive, and the IP was leased to the
    same MAC from the launch until the scan was seen finished. Dead, cancelled or errored leaves it overdue.
  - A pending scan older than C(roamscan_abandon_after_hours) is abandoned with a warning.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options:
  scan_status:
    description: The registered result of M(roamscan.qualys.qualys_scan_status) (skipped when nothing was pending).
    type: dict
    default: {}
seealso:
  - module: roamscan.qualys.qualys_scan_status
"""

EXAMPLES = r"""
- name: Confirm | Credit laptops whose scan finished and found them while they held their IP
  roamscan.qualys.cycle_confirm:
    scan_status: "{{ roamscan_status }}"
  register: roamscan_confirmed
"""

RETURN = r"""
now:
  description: Controller time used for every decision of this call.
  returned: success
  type: str
  sample: "2026-11-28T07:03:14Z"
updated:
  description: Number of laptop records this call changed (written unless in check mode).
  returned: success
  type: int
stored:
  description: Number of laptop records written to the store.
  returned: success
  type: int
confirmed:
  description: Laptops C(credited), C(not_credited) and C(abandoned), each with mac, ip, scan_ref, reason.
  returned: success
  type: dict
host_list_lookup:
  description:
    - Laptops present, overdue and not pending, shaped for M(roamscan.qualys.host_last_scanned)'s O(roamscan.qualys.host_last_scanned#module:hosts);
      empty when C(roamscan_use_qualys_host_list) is false, when this cycle will not launch (RV(launch_gate)), for
      devices whose date was looked up within C(roamscan_host_list_cache_hours), and when the host-list API has no budget.
  returned: success
  type: list
  elements: dict
launch_gate:
  description: Why this cycle will not launch (the API budget governor's reason), or null; the host list is read only when null.
  returned: success
  type: str
deferred:
  description: What this stage put off and why (a launch waiting, host-list dates cached or without budget).
  returned: success
  type: list
  elements: str
rescan_days:
  description: The C(roamscan_rescan_days) setting, for M(roamscan.qualys.host_last_scanned).
  returned: success
  type: int
"""
