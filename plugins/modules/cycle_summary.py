#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_summary.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_summary
short_description: Summarise one scan cycle, also when it stopped at a fault
version_added: 0.2.0
description:
  - Stage C(summary) of the C(roamscan.qualys.scan_overdue) cycle.
  - Builds the one summary from the results the stages registered (C(roamscan_remembered), C(roamscan_confirmed),
    C(roamscan_plan), C(roamscan_intent), C(roamscan_launch), C(roamscan_recorded)), the DHCP servers'
    acknowledgements and the counts of the laptop records.
  - With O(fault) it says what the cycle did before the fault, and which stages it could not do and why.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options:
  fault:
    description: C({stage, task, msg}) of the step that stopped the cycle; C(stage) defaults to the first word of C(task).
    type: dict
  acknowledged:
    description: Name of the variable each DHCP server registered its acknowledgement in.
    type: str
    default: roamscan_acknowledged
seealso:
  - module: roamscan.qualys.cycle_remember
"""

EXAMPLES = r"""
- name: Summary | Summarise the cycle
  roamscan.qualys.cycle_summary:
    fault: "{{ roamscan_fault | default(omit) }}"
  register: roamscan_summary
"""

RETURN = r"""
summary:
  description:
    - C(known), C(present), C(overdue), C(pending) (counts, null when the store could not be read), C(credited),
      C(not_credited), C(abandoned), C(merged_from_host_list), C(launched) (scan references), C(launched_targets),
      C(dropped_at_launch) (C({mac, ip, reason}), reason C(not_leased), C(no_reply) or C(mac_mismatch)), C(not_probed)
      and C(liveness_probe) (with C(roamscan_liveness_probe)), C(held), C(held_back) (C({mac, ip, position, reason,
      overdue_since, held_since}), at most 100) and C(held_back_count), C(corrupt_cache_entries), C(unusable_dhcp_entries), C(corrupt_spool_lines),
      C(dhcp_servers_reported), C(dhcp_servers_not_reported), C(acknowledged), C(fault) and C(not_done)
      (C({stage, reason}) of the stages a fault kept from running), C(skipped) (null, or why this run did nothing - another
      cycle held the store's lease - naming that cycle's host and start time), C(resumed) (null, or what this run took up
      from a cycle that never ended, C(after) - that cycle's C(host), C(pid), C(since) and a C(msg), when this run took
      over its expired lease - and C(launch) - C({title, intended_at}) of the launch intent it resumed -, either null).
    - C(check_mode) - in check mode, sentences saying what the cycle would have done (C(would launch one scan of
      10.20.0.11-10.20.0.12), who would be credited); the counts are those the cycle would have left. Null otherwise.
    - C(deferred) - what the API budget governor put off this cycle and why (a status poll no scan can need yet, a
      launch waiting for its batch or for budget, host-list dates cached), and C(api_budget) - per Qualys API that named
      its limit, what is left to roamscan after the reserve (null when the budget could not be kept).
  returned: success
  type: dict
cycle_failed:
  description: True when a fault stopped the cycle or a DHCP server did not report; the playbook then fails after the summary.
  returned: success
  type: bool
failure:
  description: Why the cycle failed - the stage's fault and each DHCP server that did not report, with its reason; null when it did not fail.
  returned: success
  type: str
  sample: "DHCP server not read: dhcp2 (spool /var/spool/roamscan: Permission denied)"
"""
