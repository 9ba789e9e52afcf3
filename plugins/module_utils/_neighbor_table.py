# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The host's IPv4 neighbour (ARP) table as observations: a passive online list.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on DHCP servers, routers and probe hosts).

Read with ``ip -statistics -json -4 neigh show``. The kernel's states (NUD, neighbour
unreachability detection) decide what counts:

- REACHABLE: the kernel confirmed the neighbour (an ARP answer or upper-layer progress such
  as TCP ACKs) within reachable_time (15-45 s by default): present.
- STALE, DELAY, PROBE: the link-layer address is the last one learnt, but its reachability
  timer ran out (STALE), or a packet is waiting for confirmation (DELAY, PROBE). They still
  name who last answered at that IP, so they count, but only as of their last confirmation.
- FAILED, INCOMPLETE: nobody answered; NOARP, PERMANENT: configured, not learnt; NONE: no
  state. Never present.

The time of every observation is the time of the kernel's last confirmation (the read time
minus the entry's ``confirmed`` age), never the read time, so a STALE entry never claims a
presence later than its evidence; entries last confirmed more than ``max_age`` seconds ago are
left out. An entry the kernel learnt only from a packet the neighbour sent (its ARP request)
starts with a confirmation age of twice base_reachable_time, an earlier time than the packet:
the observation is never later than the evidence.
"""

from __future__ import annotations

import json

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._observation import observation
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time

PRESENT_STATES = ('REACHABLE', 'STALE', 'DELAY', 'PROBE')
SOURCE_KIND = 'neighbor'
NEIGH_COMMAND = ('-statistics', '-json', '-4', 'neigh', 'show')


class NeighborTableError(Exception):
    """The neighbour table could not be read or is not what ``ip -json`` prints."""


def entry_state(entry):
    """The one NUD state of an ``ip -json neigh`` entry (upper case), '' when none."""
    states = entry.get('state') or []
    states = [states] if isinstance(states, str) else states
    return next((state for state in states if state in PRESENT_STATES), states[0] if states else '')


def parse_neighbors(text, now, host, max_age, interfaces=None, source_kind=SOURCE_KIND):
    """Observations of the confirmed entries of ``ip -s -j neigh`` output read at ``now`` (epoch).

    Returns ``(observations sorted by ip, skipped: {reason: count})``.
    """
    try:
        entries = json.loads(text or '[]')
    except ValueError as exc:
        raise NeighborTableError('ip neigh printed no JSON: %s' % exc) from None
    if not isinstance(entries, list):
        raise NeighborTableError('ip neigh printed %s, not a list' % type(entries).__name__)
    found, skipped = [], {}
    for entry in entries:
        reason = _unusable(entry, max_age, interfaces)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        state = entry_state(entry)
        confirmed_at = iso_time(now - int(entry.get('confirmed', 0)))
        found.append(observation(source_kind, host, 'seen', state.lower(), 'mac', normalize_mac(entry['lladdr']),
                                 normalize_ip(entry['dst']), confirmed_at, aliases={'dev': entry['dev']}
                                 if _safe_dev(entry.get('dev')) else None))
    found.sort(key=lambda item: tuple(int(part) for part in item['ip'].split('.')))
    return found, dict(sorted(skipped.items()))


def _safe_dev(name):
    return isinstance(name, str) and 0 < len(name) <= 15 and all(c.isalnum() or c in '._-@' for c in name)


def _unusable(entry, max_age, interfaces):
    if not isinstance(entry, dict):
        return 'malformed'
    if interfaces and entry.get('dev') not in interfaces:
        return 'other_interface'
    if entry_state(entry) not in PRESENT_STATES:
        return 'not_confirmed'
    try:
        normalize_ip(entry.get('dst'))
        mac = normalize_mac(entry.get('lladdr'))
    except InvalidAddress:
        return 'bad_address'
    if mac in ('00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff'):
        return 'bad_address'
    age = entry.get('confirmed')
    if not isinstance(age, int) or age < 0:
        return 'no_confirmation_time'
    if age > max_age:
        return 'too_old'
    return None
