#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_record.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_record
short_description: Record the scans the launch returned in the laptop records
version_added: 0.2.0
description:
  - Stage C(record) of the C(roamscan.qualys.scan_overdue) cycle.
  - Each intent gets the reference of the scan of its title whose targets carry its IP. Intents no scan carries are
    cleared.
  - O(launched) is the registered M(roamscan.qualys.qualys_scan_launch) loop over M(roamscan.qualys.cycle_verify)'s
    C(launches) (one per scanner route group; each C(item) names its title), or one launch result with O(title).
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options:
  title:
    description: The title the intents were recorded with; only for a single launch result (a loop's items carry theirs).
    type: str
  launched:
    description: The registered result of M(roamscan.qualys.qualys_scan_launch), or of its loop over C(launches).
    type: dict
    required: true
seealso:
  - module: roamscan.qualys.qualys_scan_launch
"""

EXAMPLES = r"""
- name: Record | Record the launched scans for each laptop
  roamscan.qualys.cycle_record:
    launched: "{{ roamscan_launch }}"     # the qualys_scan_launch loop over roamscan_intent.launches
  register: roamscan_recorded
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
launch:
  description: C(title) (the first), C(titles) (every launch's), C(recorded) (mac, ip, scan_ref) and C(missing) (intents no scan carried).
  returned: success
  type: dict
"""
