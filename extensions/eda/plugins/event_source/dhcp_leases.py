# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event source roamscan.qualys.dhcp_leases: presence events from the dhcp_hook spool."""

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

import asyncio
import importlib.util
import logging
import os

LOGGER = logging.getLogger(__name__)
DEFAULT_INTERVAL = 0.25


def _spool_modules():
    """The collection's spool protocol and record format (_spool, _spool_record), as lease_events uses them.

    ansible-rulebook runs this file with runpy, without the collection loader: then the collection's
    module_utils are made importable from their place next to this file (_standalone_loader).
    """
    try:
        from ansible_collections.roamscan.qualys.plugins.module_utils import _spool, _spool_record
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        directory = os.path.normpath(os.path.join(here, '..', '..', '..', '..', 'plugins', 'module_utils'))
        spec = importlib.util.spec_from_file_location('roamscan_qualys_standalone_loader',
                                                      os.path.join(directory, '_standalone_loader.py'))
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        loader.install(directory)
        from ansible_collections.roamscan.qualys.plugins.module_utils import _spool, _spool_record
    return _spool, _spool_record


def _settings(args, record_format):
    """Validated (spool_dir, kinds, interval) from the source arguments; ValueError otherwise."""
    unknown = set(args) - {'spool_dir', 'kinds', 'interval'}
    if unknown:
        raise ValueError('roamscan.qualys.dhcp_leases: unknown argument(s) %s' % ', '.join(sorted(unknown)))
    spool_dir = args.get('spool_dir', '/var/spool/roamscan')
    if not isinstance(spool_dir, str) or not os.path.isdir(spool_dir):
        raise ValueError('roamscan.qualys.dhcp_leases: spool_dir %r is not a directory (is the dhcp_hook role applied, '
                         'and is this the host whose DHCP server writes it?)' % (spool_dir,))
    if not os.access(spool_dir, os.R_OK | os.X_OK):
        raise ValueError('roamscan.qualys.dhcp_leases: no read access to spool_dir %s for this user (uid %d)'
                         % (spool_dir, os.getuid()))
    kinds = args.get('kinds', list(record_format.EVENT_KINDS))
    if isinstance(kinds, str):
        kinds = [kinds]
    if not isinstance(kinds, list) or not kinds or set(kinds) - set(record_format.EVENT_KINDS):
        raise ValueError('roamscan.qualys.dhcp_leases: kinds must be a list of %s, got %r'
                         % (', '.join(record_format.EVENT_KINDS), kinds))
    try:
        interval = float(args.get('interval', DEFAULT_INTERVAL))
    except (TypeError, ValueError):
        interval = 0
    if not 0 < interval <= 3600:
        raise ValueError('roamscan.qualys.dhcp_leases: interval must be a number of seconds above 0, got %r'
                         % (args.get('interval'),))
    return spool_dir, frozenset(kinds), interval


async def main(queue, args):
    """Put ``{'presence': {...}}`` on ``queue`` for each new spool record of the wanted kinds."""
    spool, record_format = _spool_modules()
    spool_dir, kinds, interval = _settings(args, record_format)
    follower = spool.SpoolFollower(spool_dir, from_start=False)
    reported_skips = 0
    try:
        while True:
            for record in follower.poll():
                if record.is_lease_event() and record.kind in kinds:
                    await queue.put({'presence': record.as_dict()})
            skipped = sum(follower.skipped.values())
            if skipped > reported_skips:
                LOGGER.warning('roamscan.qualys.dhcp_leases: skipped %d corrupt or partial spool line(s) in %s so far: %s',
                               skipped, spool_dir, follower.skipped)
                reported_skips = skipped
            await asyncio.sleep(interval)
    finally:
        follower.close()
