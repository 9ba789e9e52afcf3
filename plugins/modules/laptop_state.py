#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/laptop_state.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: laptop_state
short_description: Remember roaming laptops and decide which to scan, in the Ansible fact cache
version_added: 0.1.0
description:
  - Keeps one record per laptop (key - normalised MAC) in the configured Ansible fact cache, one inventory host per laptop
    named like C(mac-027700000a01) with the record under the fact key C(roamscan). The
    R(roamscan.qualys.laptops,ansible_collections.roamscan.qualys.laptops_inventory) inventory plugin lists them.
  - Each call reads all records once, applies the steps given (in this order - O(observe), O(scan_status),
    O(last_scanned), O(intend), O(launched), O(plan)), and writes back only the records that changed.
  - Without any step option it only checks the fact cache configuration (a cheap first task for a playbook).
  - Refuses to run when the fact cache lives in memory or expires entries (C(fact_caching_timeout) must be C(0)),
    because either would silently forget scan history.
  - Corrupt cache entries are reported in RV(corrupt) and as warnings, skipped and never overwritten; the rest proceeds.
    Note that ansible-core's file cache plugins delete a cache file that is not valid JSON when they read it.
  - Reads and writes only through Ansible's cache plugin API, so it works with the on-disk formats of ansible-core 2.19
    and later and of older releases alike, and with any durable cache plugin such as C(community.general.redis).
  - Used by the C(roamscan.qualys.scan_overdue) playbook; see its steps for how the results connect.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Computes and returns everything, writes nothing.
  diff_mode:
    support: none
  platform:
    platforms: all
    details: Runs on the controller only; the target host is not contacted.
options:
  observe:
    description:
      - Results of M(roamscan.qualys.lease_events) by DHCP server name (the name goes into the records'
        C(dhcp_server)), folded into the records in time order.
      - Safe to repeat with the same events - an event older than what a record already knows is ignored.
    type: dict
    default: {}
  scan_status:
    description:
      - RV(roamscan.qualys.qualys_scan_status#module:scans) of the pending scans.
      - A laptop is credited only if its scan is Finished and processed, found its IP alive, and the IP was leased to the
        same MAC from the launch to the end of the scan. Dead, cancelled or errored leaves it overdue.
      - A pending scan older than O(abandon_after_hours) is abandoned with a warning.
    type: list
    elements: dict
  last_scanned:
    description:
      - RV(roamscan.qualys.host_last_scanned#module:hosts) for laptops - scans of other schedules count, but only a
        date inside the laptop's own lease of that IP.
    type: list
    elements: dict
  intend:
    description:
      - Record the launch intent right before the launch call. Each target must still be leased to the same MAC in the
        fresh lease tables given in O(intend.leases) (read just before); the others are dropped.
      - The intent carries the launch's title, so a run stopped before the launch was recorded is resumed with the same
        title on the next run (see O(plan)); the launch module's C(resume) option, given that title and the intent's time
        (C(intended_at) of RV(plan)), returns the scan that already exists in whatever state it is now.
    type: dict
    suboptions:
      title:
        description: Title of this cycle's launch (from RV(plan)).
        type: str
        required: true
      targets:
        description: Targets from RV(plan), C({mac, ip}) each.
        type: list
        elements: dict
        required: true
      leases:
        description: Results of M(roamscan.qualys.lease_events) read just now, by DHCP server name (lease tables are enough).
        type: dict
        required: true
  launched:
    description:
      - Record the scans the launch returned; each intent of O(launched.title) gets the reference of the scan whose
        targets carry its IP. Intents no scan carries are cleared.
    type: dict
    suboptions:
      title:
        description: The title the intents were recorded with.
        type: str
        required: true
      scans:
        description: RV(roamscan.qualys.qualys_scan_launch#module:scans).
        type: list
        elements: dict
        required: true
  plan:
    description:
      - Return RV(plan) - who to scan now. Present (lease active, same MAC), never scanned or last scanned more than
        O(rescan_days) ago, and not pending; most overdue first; at most O(max_hosts_per_cycle); nothing while
        O(max_active_scans) roamscan scans are pending. An unresolved launch intent is resumed first.
    type: bool
    default: false
  coverage_days:
    description:
      - Return RV(coverage) for this window - the share of laptops seen in the last O(coverage_days) days that were
        scanned within them, and every overdue laptop with its last-seen time. Reads only.
    type: int
  rescan_days:
    description: A laptop is due this many days after its last completed scan.
    type: int
    default: 30
  max_hosts_per_cycle:
    description: Most laptops put into one cycle's launch.
    type: int
    default: 500
  max_active_scans:
    description: Launch nothing while this many roamscan scans are still pending (the bandwidth safeguard).
    type: int
    default: 1
  abandon_after_hours:
    description: Give up on a pending scan that is not finished and processed after this many hours.
    type: int
    default: 24
  title_prefix:
    description: Start of the launch title; the plan appends the cycle time.
    type: str
    default: roamscan
  fact_cache:
    description:
      - Use this cache plugin for the laptop records instead of Ansible's configured fact cache.
      - Needed under ansible-runner and AWX, which point Ansible's fact cache at a directory of each job; the module
        refuses such a per-job directory. Give the R(roamscan.qualys.laptops,ansible_collections.roamscan.qualys.laptops_inventory)
        inventory plugin the same settings.
    type: dict
    suboptions:
      plugin:
        description: Cache plugin name, for example C(community.general.redis) or C(ansible.builtin.jsonfile).
        type: str
        required: true
      connection:
        description: The plugin's connection (C(_uri)) - a directory for file caches, C(host:port:db) for Redis.
        type: str
      timeout:
        description: Expiry of entries in seconds; must be C(0) (never).
        type: int
        default: 0
      prefix:
        description: Key prefix (C(_prefix)).
        type: str
notes:
  - Configure the fact cache in C(ansible.cfg) C([defaults]) - C(fact_caching=ansible.builtin.jsonfile),
    C(fact_caching_connection=<directory>), C(fact_caching_timeout=0). The collection ships an example
    C(docs/examples/ansible.cfg).
  - Several controllers (AWX with more than one execution node) must share the cache, for example
    C(community.general.redis) with C(fact_caching_timeout=0), and must not run the cycle at the same time.
  - Under ansible-runner or AWX set O(fact_cache) (the playbooks take it from the C(roamscan_fact_cache) variable).
seealso:
  - module: roamscan.qualys.lease_events
  - module: roamscan.qualys.qualys_scan_launch
  - module: roamscan.qualys.qualys_scan_status
  - module: roamscan.qualys.host_last_scanned
"""

EXAMPLES = r"""
- name: Fold DHCP presence into the laptop records and list pending scans
  roamscan.qualys.laptop_state:
    observe: "{{ dict(groups['dhcp_servers'] | zip(groups['dhcp_servers'] | map('extract', hostvars, 'roamscan_collected'))) }}"
  register: roamscan_state

- name: Decide who to scan now
  roamscan.qualys.laptop_state:
    plan: true
    rescan_days: 14
    max_hosts_per_cycle: 200
  register: roamscan_plan
"""

RETURN = r"""
fact_cache:
  description: The fact cache plugin in use.
  returned: when no step option was given
  type: str
  sample: ansible.builtin.jsonfile
now:
  description: Controller time used for every decision of this call.
  returned: when a step option was given
  type: str
  sample: "2026-11-28T07:03:14Z"
counts:
  description: Laptops known, present now, overdue (present or not) and with a pending scan, after this call.
  returned: when a step option was given
  type: dict
  sample: {known: 10000, present: 1000, overdue: 420, pending: 0}
updated:
  description: Number of records changed by this call (written unless in check mode).
  returned: when a step option was given
  type: int
stored:
  description: Number of records written to the fact cache.
  returned: when a step option was given
  type: int
corrupt:
  description: Cache entries of laptop hosts that could not be read or do not follow the record schema; left untouched.
  returned: when a step option was given
  type: list
  elements: dict
  sample: [{host: mac-027700000a01, error: "invalid roamscan record: unknown record schema 7"}]
unusable:
  description: DHCP events and lease rows that could not be used (bad MAC, IP, time or kind), with the reason.
  returned: when a step option was given
  type: list
  elements: dict
corrupt_spool_lines:
  description:
    - With O(observe) - per DHCP server whose C(lease_events) result counted corrupt or partial spool lines in C(skipped_lines),
      that C(count) and its C(reasons); also reported as a warning. The other events of that server are used.
  returned: when a step option was given
  type: dict
  sample: {dhcp1: {count: 1, reasons: {truncated: 1}}}
pending_scan_refs:
  description: References of roamscan scans still pending, to pass to M(roamscan.qualys.qualys_scan_status).
  returned: when a step option was given
  type: list
  elements: str
  sample: ["scan/1795847908.12345"]
candidates:
  description:
    - Laptops present, overdue by the local records and not pending, most overdue first, shaped for the O(roamscan.qualys.host_last_scanned#module:hosts)
      option.
  returned: when a step option was given
  type: list
  elements: dict
  sample: [{ip: 10.77.0.100, mac: "02:77:00:00:0a:01", last_scanned: null, held_since: "2026-11-28T07:03:14Z"}]
confirmed:
  description: Outcome of O(scan_status) - laptops C(credited), C(not_credited) and C(abandoned), each with mac, ip, scan_ref, reason.
  returned: when a step option was given
  type: dict
merged:
  description: Laptops whose last scan date was taken from the Qualys host list.
  returned: when a step option was given
  type: list
  elements: dict
plan:
  description:
    - With O(plan=true) - C(title) of the launch (null when nothing is due), C(targets) (C({mac, ip, overdue_since})),
      C(held) (why nothing is launched while scans are pending, else null), C(resumed) (an unfinished launch of an
      earlier run is being completed) and C(intended_at) (when that launch's intent was first recorded, else null).
  returned: when a step option was given
  type: dict
  sample: {title: roamscan 2026-11-28T07:03:14Z, targets: [{mac: "02:77:00:00:0a:01", ip: 10.77.0.100, overdue_since: ""}],
           held: null, resumed: false, intended_at: null}
coverage:
  description:
    - With O(coverage_days) - C(window_days), C(since), C(seen) (laptops seen since then), C(scanned) (of those,
      scanned since then), C(share) (scanned / seen, null when none was seen) and C(overdue) (C({mac, ip, hostname,
      last_seen, last_scanned, present, pending}), most recently seen first).
  returned: when a step option was given
  type: dict
  sample: {window_days: 30, since: "2026-10-29T07:03:14Z", seen: 812, scanned: 790, share: 0.9729, overdue: []}
launch:
  description:
    - With O(intend) - C(title), C(targets) still leased to the same MAC (launch exactly these), C(dropped) with reasons.
    - With O(launched) - C(title), C(recorded) (mac, ip, scan_ref) and C(missing) (intents no scan carried).
  returned: when a step option was given
  type: dict
"""
