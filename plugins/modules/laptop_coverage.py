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
  - The C(roamscan.qualys.coverage_report) playbook's numbers and files - the share of devices seen in the last
    C(roamscan_report_days) days that were scanned within them, every overdue device with the reason it is overdue,
    the devices due soon, the age of the last scans, a breakdown by DHCP server, presence source and site
    (the DHCP server's C(roamscan_site) host variable), and the trend from the cycle history the
    C(roamscan.qualys.cycle_summary) action keeps in the store.
  - With O(path), writes a self-contained HTML page there (inline SVG charts, no script, no external request) and,
    with O(exports), CSV and JSON exports of the devices and the history next to it (schema in docs/coverage_report.md).
  - Filters C(roamscan_report_site), C(roamscan_report_source), C(roamscan_report_group) (the DHCP servers of an
    inventory group) select the devices.
  - Reads the laptop records and the history only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options:
  path:
    description: Where to write the HTML page; nothing is written without it (and nothing in check mode).
    type: path
  exports:
    description: Also write C(<page>-devices.csv), C(<page>-devices.json), C(<page>-history.csv) and C(<page>-history.json).
    type: bool
    default: true
seealso:
  - module: roamscan.qualys.cycle_summary
"""

EXAMPLES = r"""
- name: Read coverage from the laptop records
  roamscan.qualys.laptop_coverage:
    path: /srv/reports/coverage.html
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
    - C(window_days), C(since), C(seen) (devices seen since then), C(scanned) (of those, scanned since then) and C(share)
      (scanned / seen, null when none was seen), of the devices the filters select.
  returned: success
  type: dict
  sample: {window_days: 30, since: "2026-10-29T07:03:14Z", seen: 812, scanned: 790, share: 0.9729}
covered_share:
  description: Share of the selected devices that are not overdue (the history's C(covered_share) of today).
  returned: success
  type: float
overdue_present:
  description: Overdue devices present now (the next cycle scans them).
  returned: success
  type: int
overdue_reasons:
  description: Overdue devices per reason (C(pending), C(not_seen), C(too_short), C(not_found)).
  returned: success
  type: dict
due_soon:
  description: Devices not overdue that fall due within C(roamscan_report_due_soon_days).
  returned: success
  type: int
history_days:
  description: Days of cycle history within the report window.
  returned: success
  type: int
filters:
  description: The filters applied (C(site), C(source), C(group); null when not set).
  returned: success
  type: dict
files:
  description: Paths of the files written (the page and the exports; also listed in check mode, when nothing is written).
  returned: success
  type: list
  elements: str
counts:
  description: Selected devices known, present now, overdue (present or not) and with a pending scan.
  returned: success
  type: dict
  sample: {known: 10000, present: 1000, overdue: 420, pending: 0}
rescan_days:
  description: The C(roamscan_rescan_days) setting the overdue list is computed with.
  returned: success
  type: int
"""
