#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_verify.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_verify
short_description: Keep the launch targets still leased to the same laptop and record the launch intent
version_added: 0.2.0
description:
  - Stage C(verify) of the C(roamscan.qualys.scan_overdue) cycle, right before the launch.
  - Folds the lease tables read just now (O(leases)) into the records; each target must still be leased to the same
    MAC in them; the others are dropped.
  - Records the intent (the launch's title, no scan reference yet), so a run stopped before the launch was recorded is
    resumed with the same title and M(roamscan.qualys.qualys_scan_launch)'s C(reuse_active) returns the scan that
    already exists.
  - Checks the scan settings first, so no intent is recorded for a launch that would be refused.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options:
  plan:
    description: RV(roamscan.qualys.cycle_decide#module:plan).
    type: dict
    required: true
    suboptions:
      title:
        description: Title of this cycle's launch.
        type: str
        required: true
      targets:
        description: Targets, C({mac, ip}) each.
        type: list
        elements: dict
        required: true
      held:
        description: Ignored (part of the plan).
        type: str
      resumed:
        description: Whether this plan completes an unfinished launch of an earlier run.
        type: bool
      intended_at:
        description: When a resumed launch's intent was first recorded (null when not resuming).
        type: str
  leases:
    description:
      - The registered result of M(roamscan.qualys.lease_events) looped over the DHCP servers (C(item) is the server's
        inventory name); lease tables are enough.
    type: dict
    required: true
seealso:
  - module: roamscan.qualys.qualys_scan_launch
"""

EXAMPLES = r"""
- name: Verify | Record the launch intent for the laptops still leased to the same MAC
  roamscan.qualys.cycle_verify:
    plan: "{{ roamscan_plan.plan }}"
    leases: "{{ roamscan_fresh }}"
  register: roamscan_intent
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
  description:
    - C(title), C(targets) still leased to the same MAC (launch exactly these), C(dropped) with reasons.
    - C(resume) - C({title, since}) when the plan resumes an earlier run's unfinished launch, for
      M(roamscan.qualys.qualys_scan_launch)'s O(roamscan.qualys.qualys_scan_launch#module:resume), which finds that scan
      in whatever state it is now instead of launching again; null otherwise.
  returned: success
  type: dict
launch_options:
  description: M(roamscan.qualys.qualys_scan_launch)'s option profile, scanner, priority and split options from the settings.
  returned: success
  type: dict
"""
