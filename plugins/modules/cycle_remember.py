#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/cycle_remember.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: cycle_remember
short_description: Fold the presence hosts' observations into the identity records
version_added: 0.2.0
description:
  - Stage C(remember) of the C(roamscan.qualys.scan_overdue) cycle.
  - Reads the results each presence host (the DHCP servers of C(roamscan_dhcp_group) and the VPN servers of
    C(roamscan_vpn_group)) registered from C(hostvars) - one variable per source kind, named O(collected) or
    O(collected)C(_<kind>) (M(roamscan.qualys.presence_events), M(roamscan.qualys.wireguard_peers),
    M(roamscan.qualys.lease_events)); skipped tasks are left out.
  - Folds every identity's observations (DHCP leases, VPN sessions, WireGuard handshakes, ...) into that identity's
    record in time order; an IP has one holder, so a new holder of an IP ends the previous holder's holding whatever
    the kinds (a domain-controller identity seen at a leased IP leaves the MAC's lease alone). The host's inventory
    name goes into the records' C(source.host) (and C(dhcp_server) for a DHCP lease).
  - An authenticated identity (C(vpn_cert), C(ad_machine)) observed at an IP a MAC held at that moment links the two
    into one device; the link is stored on the MAC record with its evidence and time. Client-supplied host names and
    aliases never link anything.
  - Safe to repeat with the same events - an event older than what a record already knows is ignored.
  - Returns the spool cursors the presence hosts may acknowledge - only when what was folded is stored (not in check
    mode, not when the write failed) - and the live tables the verify stage re-reads.
  - Corrupt store entries are reported in RV(corrupt) and as warnings, skipped and never overwritten.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
options:
  collected:
    description:
      - Name (or start of the names, C(<name>_<kind>)) of the variables each presence host registered its results in.
    type: str
    default: roamscan_collected
seealso:
  - module: roamscan.qualys.presence_events
  - module: roamscan.qualys.wireguard_peers
"""

EXAMPLES = r"""
- name: Remember | Fold the presence into the identity records
  roamscan.qualys.cycle_remember:
  register: roamscan_remembered
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
servers:
  description: Presence hosts (DHCP and VPN servers) whose presence was folded.
  returned: success
  type: list
  elements: str
not_reported:
  description: Presence hosts without a usable result (for one of their sources), with the reason.
  returned: success
  type: dict
  sample: {dhcp2: "no presence result (the host was not reached)"}
acknowledge:
  description: Each spool read and the cursor its host may acknowledge; empty unless what was folded is stored.
  returned: success
  type: list
  elements: dict
  sample: [{host: dhcp1, source: kea, spool_dir: /var/spool/roamscan, cursor: "rs1:5c1f0e9a7d3b2c10:12.3480"}]
live_tables:
  description: The live table of each source that reported (log-only sources have none), for the verify stage.
  returned: success
  type: list
  elements: dict
  sample: [{host: vpn1, source: openvpn, table_path: /run/openvpn-server/status-roamscan.log}]
unusable:
  description: Observations and table rows that could not be used (bad identity, IP, time or kind), with the reason.
  returned: success
  type: list
  elements: dict
corrupt:
  description: Store entries met that could not be read or do not follow the record schema; left untouched.
  returned: success
  type: list
  elements: dict
  sample: [{host: roamscan-id-mac-027700000a01, error: "invalid roamscan record: unknown record schema 7"}]
corrupt_spool_lines:
  description: Per presence host whose results counted corrupt or partial spool lines, that C(count) and its C(reasons).
  returned: success
  type: dict
  sample: {dhcp1: {count: 1, reasons: {truncated: 1}}}
pending_scan_refs:
  description: References of roamscan scans still pending, for M(roamscan.qualys.qualys_scan_status).
  returned: success
  type: list
  elements: str
  sample: ["scan/1795847908.12345"]
pending_scans:
  description: The pending roamscan scans, C({ref, launched_at, targets}) (targets - how many laptops wait for it).
  returned: success
  type: list
  elements: dict
poll_scan_refs:
  description:
    - The pending scans worth this cycle's one status-poll call - all of them, or none when none can have finished yet
      (its launch + the shortest time learned for scans of its size) or the scan-list API has no budget left.
  returned: success
  type: list
  elements: str
deferred:
  description: Why the status poll is put off (empty when it is not).
  returned: success
  type: list
  elements: str
  sample: ["no pending scan can have finished yet (...): next poll after 2026-11-28T07:20:00Z"]
other_identities:
  description: How many observations named other identities than a MAC (each folds into its own record; an authenticated one may prove a link).
  returned: success
  type: int
  sample: 0
"""
