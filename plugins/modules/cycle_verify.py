#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_verify.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_verify
short_description: Keep the launch targets still held by the same identity and record the launch intent
version_added: 0.2.0
description:
  - Stage C(verify) of the C(roamscan.qualys.scan_overdue) cycle, right before the launch.
  - Folds the live tables read just now (O(leases_from); DHCP lease tables, OpenVPN status files, occtl JSON, wg dumps)
    into the records; each target must still be held by the same identity in them (the same MAC for a lease, the same
    certificate, user or key for a tunnel IP); the others are dropped.
  - The tables are one view (both peers of a DHCP HA pair hold every lease, and either may be down) - an IP any table
    shows held is held, an IP two tables give to different identities is held by nobody, and of several copies of one
    lease the last extended one counts.
  - A target whose holding is known only from a log (no live table) is kept only when C(roamscan_credit_log_presence)
    allows it.
  - Records the intent (the launch's title, no scan reference yet), so a run stopped before the launch was recorded is
    resumed with the same title and M(roamscan.qualys.qualys_scan_launch)'s C(reuse_active) returns the scan that
    already exists.
  - Checks the scan settings first, so no intent is recorded for a launch that would be refused.
  - Splits the targets by C(roamscan_scanner_routes) (CIDR to scanner selector, the most specific CIDR wins) into
    one launch per route group, each with its own intent title and the route's scanner; targets outside every route go
    to the cycle's own scanner settings (C(roamscan_scanner) and the like) with the plain title. A resumed plan keeps
    each intent's title.
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
        description: Targets, C({mac, ip}) each; a resumed plan's carry their intent's C(title).
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
      held_back:
        description: Ignored (part of the plan).
        type: list
        elements: dict
      held_back_count:
        description: Ignored (part of the plan).
        type: int
      probes:
        description: The liveness probes of this plan (C({host, interface, allow, targets}) each); set when C(roamscan_liveness_probe) is on.
        type: list
        elements: dict
      unprobed:
        description: C({ip, why}) of targets no probe host can ask.
        type: dict
  leases_from:
    description:
      - The name the presence hosts of the cycle (groups C(roamscan_dhcp_group) and C(roamscan_vpn_group))
        registered their re-read live tables in, by a play on all of them at once (M(roamscan.qualys.presence_events)
        (tables only) run for each source of RV(roamscan.qualys.cycle_remember#module:live_tables), one task per source
        kind registering this name or C(<name>_<kind>), as the collect stage does).
      - A host without a successful result confirms none of its holdings; a target no other table shows held by the
        same identity is dropped as C(not_leased).
    type: str
    default: roamscan_fresh
  probes:
    description:
      - The registered result of M(roamscan.qualys.liveness_probe) looped over RV(roamscan.qualys.cycle_decide#module:plan)'s
        C(probes) (C(item) is the probe). Targets found C(no_reply) or C(mac_mismatch) are dropped; targets whose probe did
        not run are kept and listed in C(launch.not_probed).
      - Only read when the plan has C(probes).
    type: dict
seealso:
  - module: roamscan.qualys.qualys_scan_launch
"""

EXAMPLES = r"""
- name: Verify | Record the launch intent for the laptops still leased to the same MAC
  roamscan.qualys.cycle_verify:
    plan: "{{ roamscan_plan.plan }}"
    leases_from: roamscan_fresh     # registered by lease_events in a play on the DHCP servers
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
    - C(title), C(targets) still leased to the same MAC and, with the liveness probe, still answering with it
      (launch exactly these), C(dropped) with reasons (C(not_leased), C(no_reply), C(mac_mismatch)), and C(not_probed)
      (kept, with why their probe did not run).
    - C(resume) - C({title, since}) when the plan resumes an earlier run's unfinished launch, for
      M(roamscan.qualys.qualys_scan_launch)'s O(roamscan.qualys.qualys_scan_launch#module:resume), which finds that scan
      in whatever state it is now instead of launching again; null otherwise.
  returned: success
  type: dict
liveness_probe:
  description: C({hosts, elapsed, packets_sent}) of the liveness probes that ran; null when the probe is off.
  returned: success
  type: dict
launches:
  description:
    - One entry per scanner route group (C(roamscan_scanner_routes)) with targets left, for a
      M(roamscan.qualys.qualys_scan_launch) loop - C(title) (the cycle's title, plus C(via <selector>) for a routed
      group), C(targets), C(options) (the launch options with the route's scanner) and C(resume) (as in RV(launch)).
    - Without routes, or with every target outside them, one entry with the cycle's title and scanner.
  returned: success
  type: list
  elements: dict
launch_options:
  description: M(roamscan.qualys.qualys_scan_launch)'s option profile, scanner, priority and split options from the settings.
  returned: success
  type: dict
"""
