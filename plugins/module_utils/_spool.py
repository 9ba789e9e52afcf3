# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spool protocol (rotate, read, acknowledge) and its read-only follower.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: it runs on the servers whose hooks write the spool.

<spool>/current     the hook appends here (O_APPEND, one write per run)
<spool>/seg.N       rotated segments; N never repeats (state.next_segment)
<spool>/state.json  spool_id, next_segment, acked {N: offset}, boots {boot_id: btime}
<spool>/lock        flock()ed by every reader around load-state .. save-state
A read renames current -> seg.N (atomic), then returns every complete line after the acked
offset of each segment and a cursor "rs1:<spool_id>:N.offset,..." (the prefix names the cursor
format, not the record format). Acking a cursor raises the acked offsets (state written
atomically first; offsets never go down), then deletes segments that are fully acked and
untouched for ACK_GRACE seconds (a hook that opened current before the rename may still append
to the renamed file; its record lands after the acked offset and is read next time). A crash
between any two steps repeats at most a delivery; it never loses or re-delivers an
acknowledged record. Two readers at once (two controllers, EDA beside the schedule) take turns
on the lock, so neither sees the other's half-done rotation or overwrites its state.
See docs/dhcp_hook.md.
"""

from __future__ import annotations

import binascii
import contextlib
import fcntl
import json
import os
import re
import time

from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import (
    BootClock,
    CorruptRecord,
    parse_spool_line,
)

CURRENT_FILE = 'current'
STATE_FILE = 'state.json'
LOCK_FILE = 'lock'
SEGMENT_PREFIX = 'seg.'
ACK_GRACE = 60
LOCK_TIMEOUT = 60
MAX_RECORDS_PER_READ = 20000
CURSOR_PREFIX = 'rs1'
_CURSOR = re.compile(r'rs1:([0-9a-f]{16}):((?:[0-9]{1,12}\.[0-9]{1,15})(?:,[0-9]{1,12}\.[0-9]{1,15})*)?')
_SPOOL_ID = re.compile(r'[0-9a-f]{16}')
_MAX_REMEMBERED_BOOTS = 16


class SpoolError(Exception):
    """The spool cannot be used as asked (unreadable directory, foreign or malformed cursor, lock timeout)."""


class SpoolBatch:
    """What one read returned: records, the cursor that acknowledges them, skipped line counts."""

    def __init__(self, records, cursor, skipped):
        self.records = records
        self.cursor = cursor
        self.skipped = skipped


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _count(skipped, reason):
    skipped[reason] = skipped.get(reason, 0) + 1


class Spool:
    """The reader side of the spool directory (the hook only appends to ``current``)."""

    def __init__(self, path, clock=None, ack_grace=ACK_GRACE, max_records=MAX_RECORDS_PER_READ,
                 lock_timeout=LOCK_TIMEOUT):
        self.path = path
        self.clock = clock or BootClock.current()
        self.ack_grace = ack_grace
        self.max_records = max_records
        self.lock_timeout = lock_timeout

    # -- files
    def _file(self, name):
        return os.path.join(self.path, name)

    def segment_path(self, number):
        return self._file('%s%010d' % (SEGMENT_PREFIX, number))

    def segments(self):
        """Numbers of the segments present, ascending."""
        try:
            names = os.listdir(self.path)
        except OSError as exc:
            raise SpoolError('cannot list spool directory %s: %s' % (self.path, exc.strerror)) from None
        found = []
        for name in names:
            suffix = name[len(SEGMENT_PREFIX):]
            if name.startswith(SEGMENT_PREFIX) and suffix.isdigit():
                found.append(int(suffix))
        return sorted(found)

    @contextlib.contextmanager
    def locked(self, exclusive=True):
        """Hold the spool lock: exclusive to change the spool, shared to look (check mode).

        A shared look at a spool no reader has locked yet creates nothing. Waits at most
        ``lock_timeout`` seconds for the other reader, then fails with SpoolError.
        """
        flags = (os.O_RDWR | os.O_CREAT) if exclusive else os.O_RDONLY
        try:
            fd = os.open(self._file(LOCK_FILE), flags | getattr(os, 'O_CLOEXEC', 0), 0o600)
        except FileNotFoundError:
            if exclusive:
                raise
            yield
            return
        try:
            deadline = time.monotonic() + self.lock_timeout
            while True:
                try:
                    fcntl.flock(fd, (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise SpoolError('spool %s stayed locked by another reader for %d s'
                                         % (self.path, self.lock_timeout)) from None
                    time.sleep(0.02)
            yield
        finally:
            os.close(fd)  # closing the only descriptor releases the lock

    def load_state(self):
        """The state file, or a fresh state (not yet written) when there is none."""
        try:
            with open(self._file(STATE_FILE)) as handle:
                state = json.load(handle)
        except FileNotFoundError:
            return {'spool_id': binascii.hexlify(os.urandom(8)).decode(), 'next_segment': 1,
                    'acked': {}, 'boots': {}, 'new': True}
        except (OSError, ValueError) as exc:
            raise SpoolError('cannot read %s: %s' % (self._file(STATE_FILE), exc)) from None
        if not isinstance(state, dict) or not _SPOOL_ID.fullmatch(str(state.get('spool_id', ''))):
            raise SpoolError('%s is not a roamscan spool state file' % self._file(STATE_FILE))
        state.setdefault('next_segment', 1)
        state.setdefault('acked', {})
        state.setdefault('boots', {})
        return state

    def save_state(self, state):
        """Write the state atomically and durably (temp file, fsync, rename, fsync dir)."""
        data = {k: v for k, v in state.items() if k != 'new'}
        tmp = self._file('.%s.%d.tmp' % (STATE_FILE, os.getpid()))
        with open(tmp, 'w') as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._file(STATE_FILE))
        fsync_dir(self.path)
        state.pop('new', None)

    # -- protocol steps (callers hold the lock)
    def parse_cursor(self, cursor, state):
        """{segment: offset} from a cursor this spool issued; SpoolError otherwise."""
        match = _CURSOR.fullmatch(cursor.strip()) if isinstance(cursor, str) else None
        if not match:
            raise SpoolError('malformed cursor %r (expected one returned by lease_events or presence_events)'
                             % str(cursor)[:80])
        if match.group(1) != state['spool_id']:
            raise SpoolError('cursor belongs to spool %s, not to this spool %s (%s)'
                             % (match.group(1), state['spool_id'], self.path))
        positions = {}
        for item in (match.group(2) or '').split(','):
            if item:
                number, offset = item.split('.')
                positions[int(number)] = int(offset)
        return positions

    def ack(self, cursor, state, check_mode=False):
        """Acknowledge a cursor. Returns (segments removed, whether anything changed); in check
        mode what would be removed/changed."""
        positions = self.parse_cursor(cursor, state)
        acked = state['acked']
        raised = False
        for number, offset in positions.items():
            try:
                size = os.stat(self.segment_path(number)).st_size
            except FileNotFoundError:
                continue  # already removed by an earlier ack of the same or a later cursor
            if offset > size:
                raise SpoolError('cursor position %d.%d is beyond the end of segment %d (%d bytes): '
                                 'not a cursor of this spool' % (number, offset, number, size))
            if offset > acked.get(str(number), 0):
                acked[str(number)] = offset
                raised = True
        removable = []
        now = time.time()
        for number in self.segments():
            if number >= state['next_segment']:
                continue
            stat = os.stat(self.segment_path(number))
            if acked.get(str(number), 0) >= stat.st_size and now - stat.st_mtime >= self.ack_grace:
                removable.append(number)
        if check_mode:
            return len(removable), raised or bool(removable)
        if raised or state.get('new'):
            self.save_state(state)
        if removable:
            for number in removable:
                os.unlink(self.segment_path(number))
            fsync_dir(self.path)
            for number in removable:
                acked.pop(str(number), None)
            self.save_state(state)
        return len(removable), raised or bool(removable)

    def rotate(self, state):
        """Rename current to the next segment; returns its number, or None when nothing to rotate."""
        current = self._file(CURRENT_FILE)
        try:
            if os.stat(current).st_size == 0:
                return None
        except FileNotFoundError:
            return None
        existing = self.segments()
        number = max([state['next_segment']] + [n + 1 for n in existing])
        state['next_segment'] = number + 1
        self.save_state(state)
        os.rename(current, self.segment_path(number))
        fsync_dir(self.path)
        return number

    def remember_boot(self, state):
        boot_id = self.clock.current_boot
        if boot_id and state['boots'].get(boot_id) != self.clock.boots[boot_id]:
            state['boots'][boot_id] = self.clock.boots[boot_id]
            if len(state['boots']) > _MAX_REMEMBERED_BOOTS:
                oldest = sorted(state['boots'], key=state['boots'].get)[0]
                del state['boots'][oldest]
            return True
        return False

    def _read_file(self, path, offset, records, skipped, clock):
        """Append parsed records from complete lines after ``offset``; returns the new offset."""
        try:
            with open(path, 'rb') as handle:
                fallback = os.fstat(handle.fileno()).st_mtime
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return offset
        position = offset
        start = 0
        while len(records) < self.max_records:
            end = data.find(b'\n', start)
            if end < 0:
                break  # no newline yet: a torn write; the next record's leading newline ends it
            line = data[start:end]
            start = end + 1
            position = offset + start
            if not line:
                continue
            try:
                records.append(parse_spool_line(line, clock=clock, fallback_time=fallback))
            except CorruptRecord as exc:
                _count(skipped, exc.reason)
        return position

    def read(self, state, include_current=False):
        """Records after the acked offsets, in spool order; ``include_current`` (check mode) also
        reads ``current`` without rotating it; its records are not covered by the cursor."""
        clock = BootClock(state['boots'])
        clock.boots.update(self.clock.boots)
        records, skipped, positions = [], {}, []
        for number in self.segments():
            start = state['acked'].get(str(number), 0)
            positions.append((number, self._read_file(self.segment_path(number), start, records, skipped, clock)))
            if len(records) >= self.max_records:
                break
        if include_current and len(records) < self.max_records:
            self._read_file(self._file(CURRENT_FILE), 0, records, skipped, clock)
        cursor = None
        if not state.get('new'):
            cursor = '%s:%s:%s' % (CURSOR_PREFIX, state['spool_id'], ','.join('%d.%d' % p for p in positions))
        return SpoolBatch(records, cursor, skipped)

    def collect(self, ack=None, check_mode=False, read_records=True):
        """The reader protocol: ack, rotate, read, under the spool lock. Returns (SpoolBatch or
        None when not ``read_records``, segments removed, changed)."""
        if not os.path.isdir(self.path):
            raise SpoolError('spool directory %s does not exist (is the hook role applied?)' % self.path)
        with self.locked(exclusive=not check_mode):
            state = self.load_state()
            removed = 0
            changed = False
            if ack:
                removed, changed = self.ack(ack, state, check_mode=check_mode)
            if not read_records:
                return None, removed, changed
            if check_mode:
                return self.read(state, include_current=True), removed, changed
            if self.remember_boot(state) or state.get('new'):
                self.save_state(state)
            self.rotate(state)
            return self.read(state), removed, changed


class SpoolFollower:
    """Read-only tail of ``<spool>/current`` for near-real-time consumers (the EDA source).

    Never rotates or acknowledges, so it needs no lock: the reader modules stay the only
    consumers that remove data. Follows ``current`` across their renames (reads the renamed
    file to its end first).
    """

    def __init__(self, spool_dir, from_start=False, clock=None):
        self.path = os.path.join(spool_dir, CURRENT_FILE)
        self.clock = clock
        self._handle = None
        self._pending = b''
        self._from_start = from_start
        self.skipped = {}

    def _open(self, at_end):
        try:
            self._handle = open(self.path, 'rb')
        except FileNotFoundError:
            self._handle = None
            return
        if at_end:
            self._handle.seek(0, os.SEEK_END)

    def _drain(self, records):
        data = self._pending + self._handle.read()
        lines = data.split(b'\n')
        self._pending = lines.pop()
        for line in lines:
            if not line:
                continue
            try:
                records.append(parse_spool_line(line, clock=self.clock, fallback_time=time.time()))
            except CorruptRecord as exc:
                _count(self.skipped, exc.reason)

    def poll(self):
        """Records appended since the previous poll (possibly none)."""
        records = []
        if self._handle is None:
            self._open(at_end=not self._from_start)
            self._from_start = True  # a current created later is read from its beginning
            if self._handle is None:
                return records
        self._drain(records)
        try:
            rotated = os.stat(self.path).st_ino != os.fstat(self._handle.fileno()).st_ino
        except FileNotFoundError:
            rotated = True
        if rotated:
            self._drain(records)
            self._handle.close()
            self._handle = None
            self._pending = b''
            self._open(at_end=False)
            if self._handle is not None:
                self._drain(records)
        return records

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None
