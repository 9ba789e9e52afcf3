# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event source roamscan.qualys.dhcp_leases: DHCP lease events from the dhcp_hook spool (presence_spool, narrowed)."""

from __future__ import annotations

DOCUMENTATION = r"""
---
short_description: Presence events from the roamscan DHCP hook spool, seconds after a lease
description:
  - Follows the spool that the C(roamscan.qualys.dhcp_hook) role's hook appends to on a Kea, ISC dhcpd or dnsmasq
    server and puts one event per record on the queue, under the key C(presence) with the fields of a
    C(roamscan.qualys.lease_events) event (C(id), C(time), C(server), C(kind), C(mac), C(ip), C(hostname),
    C(lease_expires)). Records of other presence sources in the same spool (C(rs2) VPN or log records) are not
    emitted.
  - Read-only. It never rotates, acknowledges or deletes spool data - C(lease_events) in the scan cycle stays the only
    consumer that does, so events reach the cycle whether or not this source runs. It keeps its own read position and
    follows the spool across the cycle's rotations.
  - Starts at the end of the spool (like C(tail -f)); what happened while it was not running is picked up by the next
    scheduled cycle, not replayed here.
  - Needs read access to the spool directory and nothing else; no Qualys credentials.
  - Corrupt or partial spool lines are skipped and counted in a warning.
  - C(roamscan.qualys.presence_spool) is the general form (every source, observation shape); this source stays for
    rulebooks written against the lease-event fields.
options:
  spool_dir:
    description: The hook's spool directory (C(dhcp_hook_spool_dir) of the role).
    type: str
    default: /var/spool/roamscan
  kinds:
    description: Event kinds to emit.
    type: list
    elements: str
    choices: [lease, renew, release, expire, decline]
    default: [lease, renew, release, expire, decline]
  interval:
    description:
      - Seconds between two looks at the spool; half of it is the average wait before an event leaves. A look is a read
        and a stat of one file, so the default costs well under 1% of a core.
    type: float
    default: 0.25
"""

EXAMPLES = r"""
- name: Scan roaming laptops as they arrive
  hosts: localhost
  sources:
    - roamscan.qualys.dhcp_leases:
        spool_dir: /var/spool/roamscan
        kinds: [lease]
  rules:
    - name: Print arrivals
      condition: event.presence.kind == "lease"
      action:
        print_event:
"""

import importlib.util
import os


def _presence_spool():
    """The presence_spool source next to this file (ansible-rulebook loads sources by path)."""
    try:
        from ansible_collections.roamscan.qualys.extensions.eda.plugins.event_source import presence_spool
    except ImportError:
        spec = importlib.util.spec_from_file_location(
            'roamscan_qualys_presence_spool', os.path.join(os.path.dirname(os.path.abspath(__file__)), 'presence_spool.py'))
        presence_spool = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(presence_spool)
    return presence_spool


def _settings(args, presence_spool, record_format):
    """Validated (spool_dir, kinds, interval) from the source arguments; ValueError otherwise."""
    name = 'roamscan.qualys.dhcp_leases'
    unknown = set(args) - {'spool_dir', 'kinds', 'interval'}
    if unknown:
        raise ValueError('%s: unknown argument(s) %s' % (name, ', '.join(sorted(unknown))))
    spool_dir = presence_spool.spool_dir_setting(args.get('spool_dir', presence_spool.DEFAULT_SPOOL_DIR), name, 'spool_dir')
    kinds = presence_spool.choices_setting(args.get('kinds', list(record_format.EVENT_KINDS)), record_format.EVENT_KINDS,
                                           name, 'kinds')
    return spool_dir, kinds, presence_spool.interval_setting(args.get('interval', presence_spool.DEFAULT_INTERVAL), name)


async def main(queue, args):
    """Put ``{'presence': {...}}`` on ``queue`` for each new DHCP lease record of the wanted kinds."""
    presence_spool = _presence_spool()
    record_format = presence_spool.spool_modules()[1]
    spool_dir, kinds, interval = _settings(args, presence_spool, record_format)
    await presence_spool.follow(queue, [spool_dir], interval,
                                lambda record: record.is_lease_event() and record.kind in kinds,
                                lambda record: {'presence': record.as_dict()}, 'roamscan.qualys.dhcp_leases')
