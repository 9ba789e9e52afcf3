#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
# The work is done by the action plugin plugins/action/device_unlink.py; this file documents it.

from __future__ import annotations

DOCUMENTATION = r"""
---
module: device_unlink
short_description: Remove an authenticated link between identities of a roaming device
version_added: 0.2.0
description:
  - The cycle links an authenticated identity (a VPN certificate, an AD machine account) to a MAC when it sees that
    identity at an IP the MAC held at that moment, and keeps the link with its evidence on the MAC's record. When
    such a link is wrong (a shared jump host, NAT in front of a VPN, a machine account used from another laptop),
    this removes it from every record that holds it, or from the records of O(devices) only.
  - The removal is remembered on each record (C(unlinked), with the time, O(reason) and the evidence of the link
    removed), so the same identity is never linked to that MAC again by a later sighting; only the operator's alias
    list (C(roamscan_device_aliases), C(roamscan_device_aliases_file)) joins them then.
  - Links made by the alias list are not stored; remove the entry from the alias list instead. This action says so
    when the alias list still joins the identity.
  - Check mode reports the links it would remove, with their evidence, and writes nothing; with C(--diff) the
    records' links are shown before and after.
  - Takes the store's cycle lease while it writes, so it never races a running cycle; when a cycle holds it, the
    task fails naming the holder (run it again after the cycle).
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - roamscan.qualys.cycle
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
options:
  identity:
    description:
      - The linked identity to remove, as C(kind:value) (the alias list's spelling), for example C(vpn_cert:alice-laptop)
        or C(ad_machine:LAPTOP01$).
    type: str
    required: true
  devices:
    description:
      - Remove the link only from the records of these identities (C(kind:value); a MAC also as C(mac:02:77:00:00:0a:01)).
      - Default, every record that links O(identity).
    type: list
    elements: str
    default: []
  reason:
    description: Why, kept with the removal on each record.
    type: str
seealso:
  - module: roamscan.qualys.cycle_remember
"""

EXAMPLES = r"""
- name: See what would be removed, with the evidence (ansible-playbook --check --diff)
  roamscan.qualys.device_unlink:
    identity: vpn_cert:jumphost-01
  check_mode: true

- name: Remove the link, for one laptop only
  roamscan.qualys.device_unlink:
    identity: ad_machine:LAPTOP01$
    devices: [mac:02:77:00:00:0a:01]
    reason: machine account used from a lab laptop (ticket 4711)

# ad hoc: ansible localhost -m roamscan.qualys.device_unlink -a identity=vpn_cert:jumphost-01 --check --diff
"""

RETURN = r"""
now:
  description: Controller time used for the removal (the C(at) of each C(unlinked) entry).
  returned: success
  type: str
  sample: "2026-11-28T07:03:14Z"
updated:
  description: Number of records this call changed (written unless in check mode).
  returned: success
  type: int
stored:
  description: Number of records written to the store.
  returned: success
  type: int
unlinked:
  description: The links removed (in check mode, that would be removed), each with the record it was on and its evidence.
  returned: success
  type: list
  elements: dict
  sample:
    - record: "02:77:00:00:0a:01"
      link: {identity: "vpn_cert:jumphost-01", kind: authenticated, since: "2026-11-20T08:00:00Z",
             evidence: {source: openvpn, host: vpn1, ip: 10.77.0.100, time: "2026-11-20T08:00:00Z", held_since: "2026-11-20T07:58:00Z"}}
still_aliased:
  description: The alias-list device that still joins O(identity) (remove it there), or null.
  returned: success
  type: str
"""
