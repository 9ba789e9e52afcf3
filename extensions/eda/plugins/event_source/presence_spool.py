# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event source roamscan.qualys.presence_spool: presence observations from any roamscan spool."""

from __future__ import annotations

DOCUMENTATION = r"""
---
short_description: Presence observations from roamscan spools (DHCP hook, VPN hooks, presence receiver), seconds after they happen
description:
  - Follows one or more roamscan spool directories - the C(roamscan.qualys.dhcp_hook) spool, a VPN hook spool, the
    C(roamscan.qualys.presence_receiver) spool - and puts one event per record on the queue, under the key
    C(presence), in the observation shape of C(roamscan.qualys.presence_events) (C(id), C(source) {kind, host},
    C(event) start/seen/end, C(why), C(identity) {kind, value}, C(ip), C(time), C(until), C(aliases), C(hostname),
    C(authority) table/log).
  - Read-only. It never rotates, acknowledges or deletes spool data - the scan cycle's reader modules stay the only
    consumers that do, so events reach the cycle whether or not this source runs. It follows each spool across the
    cycle's rotations.
  - Starts at the end of each spool (like C(tail -f)); what happened while it was not running is picked up by the
    next scheduled cycle, not replayed here.
  - Needs read access to the spool directories and nothing else; no Qualys credentials.
  - Corrupt or partial spool lines are skipped and counted in a warning.
options:
  spool_dirs:
    description: The spool directories to follow.
    type: list
    elements: str
    default: [/var/spool/roamscan]
  sources:
    description: Only records of these sources (C(kea), C(openvpn), C(receiver), ...); all when empty.
    type: list
    elements: str
    default: []
  events:
    description: Observation events to emit.
    type: list
    elements: str
    choices: [start, seen, end]
    default: [start, seen, end]
  interval:
    description: Seconds between two looks at each spool (a read and a stat of one file per spool).
    type: float
    default: 0.25
  batch_window:
    description:
      - Seconds a batch stays open after its first observation. V(0) puts one event per record on the queue, under
        C(presence); above V(0) the observations of the window become one event, under C(presence_batch)
        (C(observations), C(opened_at), C(closed_at), C(closed_by) V(window) or V(full)), so that a burst of
        arrivals runs one scan cycle and one launch, not one per device. No observation waits longer than the
        window (plus one O(interval)).
    type: float
    default: 0
  batch_max:
    description: A batch closes at once when it holds this many identities.
    type: int
    default: 100
  once_within:
    description:
      - Seconds during which an identity (C(kind) and C(value)) already put in a batch is not batched again (a laptop
        roaming between access points, a VPN client reconnecting); V(0) batches every observation. Only with
        O(batch_window); per-record events are throttled by the rulebook instead.
    type: float
    default: 0
"""

EXAMPLES = r"""
- name: Scan devices as they arrive, whatever saw them
  hosts: localhost
  sources:
    - roamscan.qualys.presence_spool:
        spool_dirs: [/var/spool/roamscan, /var/spool/roamscan-receiver]
        events: [start]
  rules:
    - name: Print arrivals
      condition: event.presence.event == "start"
      action:
        print_event:
"""

import asyncio
import importlib.util
import logging
import os
import platform
import time

LOGGER = logging.getLogger(__name__)
DEFAULT_INTERVAL = 0.25
DEFAULT_SPOOL_DIR = '/var/spool/roamscan'
EVENTS = ('start', 'seen', 'end')


def spool_modules():
    """The collection's _spool, _spool_record and _observation modules.

    ansible-rulebook runs this file with runpy, without the collection loader: then the collection's
    module_utils are made importable from their place next to this file (_standalone_loader).
    """
    try:
        from ansible_collections.roamscan.qualys.plugins.module_utils import _observation, _spool, _spool_record
    except ImportError:
        here = os.path.dirname(os.path.abspath(__file__))
        directory = os.path.normpath(os.path.join(here, '..', '..', '..', '..', 'plugins', 'module_utils'))
        spec = importlib.util.spec_from_file_location('roamscan_qualys_standalone_loader',
                                                      os.path.join(directory, '_standalone_loader.py'))
        loader = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loader)
        loader.install(directory)
        from ansible_collections.roamscan.qualys.plugins.module_utils import _observation, _spool, _spool_record
    return _spool, _spool_record, _observation


def spool_dir_setting(value, name, option='spool_dirs'):
    """A readable spool directory; ValueError otherwise."""
    if not isinstance(value, str) or not os.path.isdir(value):
        raise ValueError('%s: %s %r is not a directory (is the hook or receiver role applied, and is this the host '
                         'that writes it?)' % (name, option, value))
    if not os.access(value, os.R_OK | os.X_OK):
        raise ValueError('%s: no read access to %s %s for this user (uid %d)' % (name, option, value, os.getuid()))
    return value


def interval_setting(value, name):
    try:
        interval = float(value)
    except (TypeError, ValueError):
        interval = 0
    if not 0 < interval <= 3600:
        raise ValueError('%s: interval must be a number of seconds above 0, got %r' % (name, value))
    return interval


def choices_setting(value, allowed, name, option):
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not values or set(values) - set(allowed):
        raise ValueError('%s: %s must be a list of %s, got %r' % (name, option, ', '.join(allowed), value))
    return frozenset(values)


class Batcher:
    """Observations of a short window as one event: opened by the first, closed when the window passed or it is full.

    Within a batch an identity counts once; with ``once_within`` an identity batched less than that long ago is left
    out (its cycle is already on its way).
    """

    def __init__(self, window, most, once_within, clock=time.monotonic, wall=time.time):
        self.window, self.most, self.once_within = window, most, once_within
        self._clock, self._wall = clock, wall
        self._opened, self._opened_at, self._observations = None, None, {}
        self._batched = {}

    def add(self, observation):
        """Add one observation; the closed batch when it made the batch full, else None."""
        now = self._clock()
        identity = observation['identity']
        key = (identity['kind'], identity['value'])
        if key in self._observations or now - self._batched.get(key, -self.once_within - 1) < self.once_within:
            return None
        if self._opened is None:
            self._opened, self._opened_at = now, self._wall()
        self._observations[key] = observation
        self._batched[key] = now
        return self._close('full') if len(self._observations) >= self.most else None

    def due(self):
        """The batch, once its window passed (None while it is open or empty)."""
        if self._opened is not None and self._clock() - self._opened >= self.window:
            return self._close('window')
        return None

    def _close(self, why):
        cutoff = self._clock() - self.once_within
        self._batched = {key: at for key, at in self._batched.items() if at > cutoff}
        batch = {'observations': list(self._observations.values()), 'opened_at': _iso(self._opened_at),
                 'closed_at': _iso(self._wall()), 'closed_by': why}
        self._opened, self._opened_at, self._observations = None, None, {}
        return {'presence_batch': batch}


def _iso(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


async def follow(queue, spool_dirs, interval, accept, shape, name, batcher=None):
    """Put ``shape(record)`` on ``queue`` for each new record of ``spool_dirs`` that ``accept``s (with a ``batcher``,
    the batches it closes)."""
    spool = spool_modules()[0]
    followers = [spool.SpoolFollower(path, from_start=False) for path in spool_dirs]
    reported = [0] * len(followers)
    try:
        while True:
            for index, follower in enumerate(followers):
                for record in follower.poll():
                    if not accept(record):
                        continue
                    event = shape(record)
                    event = batcher.add(event['presence']) if batcher else event
                    if event is not None:
                        await queue.put(event)
                skipped = sum(follower.skipped.values())
                if skipped > reported[index]:
                    LOGGER.warning('%s: skipped %d corrupt or partial spool line(s) in %s so far: %s',
                                   name, skipped, spool_dirs[index], follower.skipped)
                    reported[index] = skipped
            closed = batcher.due() if batcher else None
            if closed is not None:
                await queue.put(closed)
            await asyncio.sleep(interval)
    finally:
        for follower in followers:
            follower.close()


async def main(queue, args):
    """Put ``{'presence': observation}`` on ``queue`` for each new record of the wanted sources and events."""
    name = 'roamscan.qualys.presence_spool'
    record_format, observation = spool_modules()[1:]
    unknown = set(args) - {'spool_dirs', 'sources', 'events', 'interval', 'batch_window', 'batch_max', 'once_within'}
    if unknown:
        raise ValueError('%s: unknown argument(s) %s' % (name, ', '.join(sorted(unknown))))
    spool_dirs = args.get('spool_dirs', [DEFAULT_SPOOL_DIR])
    if isinstance(spool_dirs, str):
        spool_dirs = [spool_dirs]
    if not isinstance(spool_dirs, list) or not spool_dirs:
        raise ValueError('%s: spool_dirs must be a non-empty list of directories' % name)
    spool_dirs = [spool_dir_setting(path, name) for path in spool_dirs]
    sources = choices_setting(args.get('sources') or list(record_format.SOURCES), record_format.SOURCES, name, 'sources')
    events = choices_setting(args.get('events', list(EVENTS)), EVENTS, name, 'events')
    interval = interval_setting(args.get('interval', DEFAULT_INTERVAL), name)
    batcher = batch_setting(args, name)
    host = platform.node()
    await follow(queue, spool_dirs, min(interval, batcher.window) if batcher else interval,
                 lambda record: record.source in sources and record.event in events,
                 lambda record: {'presence': observation.from_record(record, host)}, name, batcher)


def batch_setting(args, name):
    """The Batcher of batch_window / batch_max / once_within (None: one event per record)."""
    numbers = {}
    for option, default in (('batch_window', 0), ('batch_max', 100), ('once_within', 0)):
        value = args.get(option, default)
        try:   # rulebook variables arrive rendered as text
            value = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            value = None
        if value is None or not 0 <= value <= 86400:
            raise ValueError('%s: %s must be a number of 0 to 86400, got %r' % (name, option, args.get(option)))
        numbers[option] = value
    if numbers['batch_max'] < 1 or numbers['batch_max'] != int(numbers['batch_max']):
        raise ValueError('%s: batch_max must be a whole number of 1 or more, got %r' % (name, numbers['batch_max']))
    if not numbers['batch_window']:
        if numbers['once_within']:
            raise ValueError('%s: once_within needs batch_window (per-record events are throttled by the rulebook)' % name)
        return None
    return Batcher(numbers['batch_window'], int(numbers['batch_max']), numbers['once_within'])
