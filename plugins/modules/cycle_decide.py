#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_decide.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_decide
short_description: Decide which laptops this cycle scans
version_added: 0.2.0
description:
  - Stage C(decide) of the C(roamscan.qualys.scan_overdue) cycle.
  - Takes scans of other schedules from the Qualys host list - a date counts only inside the laptop's own open
    holding of that IP, and never from the future.
  - Present (lease active, same MAC), never scanned or last scanned more than C(roamscan_rescan_days) ago, and not
    pending; most overdue first; at most C(roamscan_max_hosts_per_cycle); nothing while C(roamscan_max_active_scans)
    roamscan scans are pending. An unresolved launch intent of an earlier run is resumed first, with its title.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options:
  last_scanned:
    description: The registered result of M(roamscan.qualys.host_last_scanned) (skipped when not looked up).
    type: dict
    default: {}
seealso:
  - module: roamscan.qualys.host_last_scanned
"""

EXAMPLES = r"""
- name: Decide | Choose who to scan now
  roamscan.qualys.cycle_decide:
    last_scanned: "{{ roamscan_elsewhere }}"
  register: roamscan_plan
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
credential_check:
  description: The value of C(roamscan_credential_check); the playbook proves the Qualys login with
    M(roamscan.qualys.qualys_login_check) when it is true and the cycle made no other Qualys call.
  returned: success
  type: bool
merged:
  description: Laptops whose last scan date was taken from the Qualys host list.
  returned: success
  type: list
  elements: dict
plan:
  description:
    - C(title) of the launch (null when nothing is due), C(targets) (C({mac, ip, overdue_since})), C(held) (why
      nothing is launched while scans are pending or the API budget governor defers the launch - no budget, launches
      spaced to last the Qualys window, a batch still filling - else null), C(resumed) (an earlier run's launch is completed) and
      C(intended_at) (when that launch's intent was first recorded, else null).
    - C(held_back) - the due laptops that wait, in queue order (the day of the deadline, then the estimated chance to
      leave before a scan launched now could be done, C(leave_risk), highest first, then the deadline and arrival), each
      with its C(position) in the queue and C(reason); at most 100 are listed, C(held_back_count) counts them all.
    - With C(roamscan_liveness_probe), C(probes) (C({host, interface, allow, targets}) per probe host) and C(unprobed)
      (C({ip, why}) of targets no probe host can ask); not set for a resumed launch, which launches what it intended.
  returned: success
  type: dict
  sample: {title: roamscan 2026-11-28T07:03:14Z, targets: [{mac: "02:77:00:00:0a:01", ip: 10.77.0.100, overdue_since: ""}],
           held: null, held_back: [], held_back_count: 0, resumed: false, intended_at: null}
candidates:
  description: Laptops present, overdue and not pending after this decision, most overdue first.
  returned: success
  type: list
  elements: dict
"""
