#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/laptop_coverage.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: laptop_coverage
short_description: How well the roaming laptops are covered by scans
version_added: 0.2.0
description:
  - The numbers of the C(roamscan.qualys.coverage_report) playbook - the share of laptops seen in the last
    C(roamscan_report_days) days that were scanned within them, and every overdue laptop with its last-seen time.
  - Reads the laptop records only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options: {}
seealso:
  - module: roamscan.qualys.cycle_summary
"""

EXAMPLES = r"""
- name: Read coverage from the laptop records
  roamscan.qualys.laptop_coverage:
  register: roamscan_report
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
coverage:
  description:
    - C(window_days), C(since), C(seen) (laptops seen since then), C(scanned) (of those, scanned since then), C(share)
      (scanned / seen, null when none was seen) and C(overdue) (C({mac, ip, hostname, last_seen, last_scanned,
      present, pending}), most recently seen first).
  returned: success
  type: dict
  sample: {window_days: 30, since: "2026-10-29T07:03:14Z", seen: 812, scanned: 790, share: 0.9729, overdue: []}
counts:
  description: Laptops known, present now, overdue (present or not) and with a pending scan.
  returned: success
  type: dict
  sample: {known: 10000, present: 1000, overdue: 420, pending: 0}
rescan_days:
  description: The C(roamscan_rescan_days) setting the overdue list is computed with.
  returned: success
  type: int
"""
