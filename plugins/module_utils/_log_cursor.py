# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""At-least-once reading of log files someone else writes and rotates.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: it runs on DCs and log collectors inside logon_events.

The reader never writes the logs. Per file it keeps the acknowledged position
(device, inode, offset, length + hash of the file's first bytes, read time) in a state file of
its own. A read returns complete lines after that position and a cursor; acknowledging the
cursor moves the position (the state is written atomically). So:

- a record is delivered again until its cursor is acknowledged, and never after;
- rename rotation (logrotate ``create``, Samba's ``max log size`` -> ``.old``): the old inode
  is found among the file's siblings (``NAME.1``, ``NAME.old``, ``NAME-20261201``) and read
  to its end before the new file; while the old file is still being written (modified less
  than ``settle`` seconds ago) the reader stays in it;
- copytruncate: the file's head no longer matches (or it shrank), so the copy whose head does
  match is read from the position, then the truncated file from its start;
- a last line without newline is left for the next read while its file may still grow; in a
  rotated file that has settled it is a torn record: counted (``truncated``) and passed;
- a position taken on an empty file (nothing to hash) cannot tell its file's copies apart, so
  every sibling written since that read is read from its start;
- a position that no sibling holds any more (rotated and compressed before it was read) is a
  counted gap, never a failure.
"""

from __future__ import annotations

import binascii
import hashlib
import json
import os
import re
import stat

HEAD_BYTES = 256
READ_BLOCK = 1 << 20
MAX_LINE_BYTES = 1 << 16
SETTLE_SECONDS = 30
_COMPRESSED = ('.gz', '.bz2', '.xz', '.zst', '.lz4', '.z')
_TOKEN = re.compile(r'([0-9a-f]{8})\.([0-9]{1,20})\.([0-9]{1,20})\.([0-9]{1,15})\.([0-9]{1,3})\.([0-9a-f]{16})\.([0-9]{1,12})')
_CURSOR = re.compile(r'lc1:([0-9a-f]{16}):(.*)')


class CursorError(ValueError):
    """The state file or a cursor cannot be used (foreign, malformed, beyond the data)."""


def path_key(path):
    return hashlib.sha1(path.encode('utf-8', 'surrogateescape')).hexdigest()[:8]


def _head(handle, length):
    handle.seek(0)
    data = handle.read(length)
    return len(data), hashlib.sha256(data).hexdigest()[:16]


class Position:
    """Where reading stopped in one file."""

    __slots__ = ('dev', 'ino', 'offset', 'head_len', 'head', 'at')

    def __init__(self, dev, ino, offset, head_len, head, at):
        self.dev, self.ino, self.offset = int(dev), int(ino), int(offset)
        self.head_len, self.head, self.at = int(head_len), head, int(at)

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def token(self, path):
        return '%s.%d.%d.%d.%d.%s.%d' % (path_key(path), self.dev, self.ino, self.offset, self.head_len, self.head, self.at)

    def same_file(self, st):
        return st is not None and (st.st_dev, st.st_ino) == (self.dev, self.ino)

    def head_matches(self, name):
        """True if ``name`` starts with the bytes this position was taken on and reaches it."""
        try:
            with open(name, 'rb') as handle:
                if os.fstat(handle.fileno()).st_size < self.offset:
                    return False
                return _head(handle, self.head_len) == (self.head_len, self.head)
        except OSError:
            return False


def _stat(name):
    try:
        st = os.stat(name)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def siblings(path):
    """Rotated copies of ``path`` next to it (plain files only), as [(name, stat)]."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or '.')
    except OSError:
        return []
    found = []
    for name in names:
        if len(name) <= len(base) or not name.startswith(base) or name[len(base)] not in '.-_':
            continue
        if name.lower().endswith(_COMPRESSED):
            continue
        full = os.path.join(directory, name)
        st = _stat(full)
        if st is not None:
            found.append((full, st))
    return found


class LogReader:
    """Reads one log file (and its rotated siblings) from an acknowledged Position."""

    def __init__(self, path, settle=SETTLE_SECONDS, max_line=MAX_LINE_BYTES):
        self.path = path
        self.settle = settle
        self.max_line = max_line

    def start(self, now):
        """The beginning of the current file as a Position (where an unread log starts), or None."""
        try:
            with open(self.path, 'rb') as handle:
                st = os.fstat(handle.fileno())
                head_len, head = _head(handle, HEAD_BYTES)
        except OSError:
            return None
        return Position(st.st_dev, st.st_ino, 0, head_len, head, now)

    def plan(self, acked, now):
        """[(name, start offset, settled)] in read order, and whether the position was lost."""
        current = _stat(self.path)
        if acked is None:
            return ([(self.path, 0, False)] if current else []), False
        current_id = None if current is None else (current.st_dev, current.st_ino)
        others = [(name, st) for name, st in siblings(self.path) if (st.st_dev, st.st_ino) != current_id]
        tail = [(self.path, 0, False)] if current is not None else []
        if acked.head_len == 0:
            # the file was empty at the read: everything written since, wherever rotation moved or
            # copied it, is unread (a write in the very second of the read may come again)
            touched = sorted((item for item in others if item[1].st_mtime >= acked.at and item[1].st_size > 0),
                             key=lambda item: item[1].st_mtime)
            return [(name, 0, self._settled(st, now)) for name, st in touched] + tail, False
        if acked.same_file(current) and acked.head_matches(self.path):
            return [(self.path, acked.offset, False)], False
        holder = next((item for item in others if acked.same_file(item[1]) and acked.head_matches(item[0])), None)
        if holder is None:
            # copytruncate: the copy starts with the bytes the position was taken on
            copies = sorted((item for item in others if acked.head_matches(item[0])), key=lambda item: item[1].st_mtime)
            holder = copies[0] if copies else None
        if holder is None:
            return tail, True
        # a copy is a file no writer has open; the renamed original may still be written
        chain = [(holder[0], acked.offset, not acked.same_file(holder[1]) or self._settled(holder[1], now))]
        newer = sorted((item for item in others if item is not holder and item[1].st_mtime >= holder[1].st_mtime),
                       key=lambda item: item[1].st_mtime)
        return chain + [(name, 0, self._settled(st, now)) for name, st in newer] + tail, False

    def _settled(self, st, now):
        return now - st.st_mtime >= self.settle

    def read(self, acked, now, on_line, skipped, limit):
        """Feed complete lines to ``on_line(bytes)``, at most ``limit``; returns (Position
        reached or None when there is no file, whether the acknowledged position was lost)."""
        chain, lost = self.plan(acked, now)
        position = acked
        budget = [limit]
        for name, start, settled in chain:
            reached, at_end = self._read_file(name, start, settled, now, on_line, skipped, budget)
            if reached is None:
                continue
            position = reached
            if not at_end or not settled:
                break  # stay in this file: more lines may come, or the caller's limit was hit
        return position, lost

    def _read_file(self, name, start, settled, now, on_line, skipped, budget):
        """Lines of one file from ``start``; returns (Position after the last line taken, EOF reached)."""
        try:
            handle = open(name, 'rb')
        except OSError:
            return None, True
        with handle:
            st = os.fstat(handle.fileno())
            head_len, head = _head(handle, HEAD_BYTES)
            position = committed = start if start <= st.st_size else 0
            handle.seek(position)
            pending = b''
            oversized = False
            while budget[0] > 0:
                block = handle.read(READ_BLOCK)
                if not block:
                    break
                pending += block
                while budget[0] > 0:
                    end = pending.find(b'\n')
                    if end < 0:
                        break
                    line, pending = pending[:end], pending[end + 1:]
                    position += end + 1
                    committed = position
                    if oversized or len(line) > self.max_line:
                        _count(skipped, 'too_long')
                        oversized = False
                    elif line.strip(b' \t\r\x00'):
                        on_line(line)
                        budget[0] -= 1
                if len(pending) > self.max_line:
                    # longer than any record: stop holding it, count it when its newline comes
                    position += len(pending)
                    pending = b''
                    oversized = True
            at_end = budget[0] > 0
            if at_end and settled and (pending or oversized):
                _count(skipped, 'too_long' if oversized else 'truncated')
                committed = position + len(pending)
        return Position(st.st_dev, st.st_ino, committed, head_len, head, now), at_end


def _count(counter, reason):
    counter[reason] = counter.get(reason, 0) + 1


class CursorState:
    """The reader's own state file: {state_id, files: {path: Position}}; written atomically."""

    def __init__(self, path):
        self.path = path

    def load(self):
        try:
            with open(self.path) as handle:
                data = json.load(handle)
        except FileNotFoundError:
            return {'state_id': binascii.hexlify(os.urandom(8)).decode(), 'files': {}, 'new': True}
        except (OSError, ValueError) as exc:
            raise CursorError('cannot read state file %s: %s' % (self.path, exc)) from None
        if not isinstance(data, dict) or not re.fullmatch(r'[0-9a-f]{16}', str(data.get('state_id', ''))):
            raise CursorError('%s is not a logon_events state file' % self.path)
        try:
            files = {path: Position(**value) for path, value in data.get('files', {}).items()}
        except (TypeError, ValueError, AttributeError):
            raise CursorError('%s holds malformed positions' % self.path) from None
        return {'state_id': data['state_id'], 'files': files}

    def save(self, state):
        directory = os.path.dirname(self.path) or '.'
        if not os.path.isdir(directory):
            raise CursorError('state directory %s does not exist (is the dc_audit role applied?)' % directory)
        data = {'state_id': state['state_id'], 'files': {p: pos.as_dict() for p, pos in state['files'].items()}}
        tmp = '%s.%d.tmp' % (self.path, os.getpid())
        with open(tmp, 'w') as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.rename(tmp, self.path)
        state.pop('new', None)

    @staticmethod
    def cursor(state, positions):
        """The cursor for {path: Position}."""
        return 'lc1:%s:%s' % (state['state_id'], ','.join(pos.token(path) for path, pos in sorted(positions.items())))

    def apply(self, state, cursor, paths):
        """Move acknowledged positions to ``cursor``; True when something moved. Validates
        everything before changing anything."""
        match = _CURSOR.fullmatch(cursor.strip()) if isinstance(cursor, str) else None
        if not match:
            raise CursorError('malformed cursor %r' % str(cursor)[:80])
        if state.get('new') or match.group(1) != state['state_id']:
            raise CursorError('cursor belongs to another logon_events state (state file %s)' % self.path)
        by_key = {path_key(path): path for path in paths}
        updates = {}
        for token in filter(None, match.group(2).split(',')):
            parts = _TOKEN.fullmatch(token)
            if not parts:
                raise CursorError('malformed cursor entry %r' % token[:80])
            path = by_key.get(parts.group(1))
            if path is None:
                raise CursorError('cursor names a log file that is not in paths')
            updates[path] = Position(*parts.groups()[1:5], head=parts.group(6), at=parts.group(7))
        changed = False
        for path, position in updates.items():
            old = state['files'].get(path)
            same_file = old is not None and (old.dev, old.ino, old.head, old.head_len) == (
                position.dev, position.ino, position.head, position.head_len)
            if old is not None and (position.at < old.at or same_file and (position.offset, position.at) <= (old.offset, old.at)
                                    or same_file and position.offset < old.offset):
                continue  # an older cursor (read earlier, or behind in the same file): already acknowledged
            state['files'][path] = position
            changed = True
        return changed


def collect_logs(store, paths, ack, include_lines, check_mode, now, settle, max_lines, take, skipped):
    """The reader protocol of a log module (logon_events, log_presence): acknowledge ``ack``, then
    feed every complete line after the acknowledged positions of ``paths`` to ``take(bytes)``, at
    most ``max_lines`` in all; the reader's own counts (too_long, truncated) go to ``skipped``.
    Returns {changed, cursor, rotation_gaps}; the cursor is None before the state file exists."""
    state = store.load()
    changed = False
    if ack:
        changed = store.apply(state, ack, paths)
        if changed and not check_mode:
            store.save(state)
    result = dict(changed=changed, cursor=None, rotation_gaps=[])
    if not include_lines:
        return result
    # a log seen for the first time starts at its beginning, remembered at once: a rotation before
    # the first acknowledgement must not skip it
    readers = {path: LogReader(path, settle=settle) for path in paths}
    starts = {path: reader.start(now) for path, reader in readers.items() if path not in state['files']}
    state['files'].update((path, start) for path, start in starts.items() if start is not None)
    if (state.get('new') or any(starts.values())) and not check_mode:
        store.save(state)
    positions = {}
    taken = [0]

    def counted(line):
        taken[0] += 1
        take(line)

    for path in paths:
        position, lost = readers[path].read(state['files'].get(path), now, counted, skipped,
                                            max(max_lines - taken[0], 0))
        if position is not None:
            positions[path] = position
        if lost:
            result['rotation_gaps'].append(path)
    if not state.get('new'):
        result['cursor'] = store.cursor(state, positions)
    return result


def log_argument_spec(default_paths, default_state_file):
    """The options every log reader module has (paths, state_file, ack, include_events, source_host,
    settle_seconds, max_events)."""
    return dict(
        paths=dict(type='list', elements='path', default=list(default_paths)),
        state_file=dict(type='path', default=default_state_file),
        ack=dict(type='str'),
        include_events=dict(type='bool', default=True),
        source_host=dict(type='str'),
        settle_seconds=dict(type='int', default=SETTLE_SECONDS),
        max_events=dict(type='int', default=20000),
    )


def _summary(counter):
    return {'count': sum(counter.values()), 'reasons': dict(sorted(counter.items()))}


def read_observations(params, check_mode, now, parse, skipped_error, ignored_error):
    """One log reader module run: ``parse(line bytes)`` returns an observation or raises
    ``skipped_error`` (no valid record) or ``ignored_error`` (valid, no presence), both with a
    ``reason``. Returns the module result fields (changed, cursor, rotation_gaps, observations,
    skipped_lines, ignored)."""
    observations, skipped, ignored = [], {}, {}

    def take(line):
        try:
            observations.append(parse(line))
        except skipped_error as exc:
            _count(skipped, exc.reason)
        except ignored_error as exc:
            _count(ignored, exc.reason)

    result = collect_logs(CursorState(params['state_file']), params['paths'], params['ack'], params['include_events'],
                          check_mode, now, params['settle_seconds'], params['max_events'], take, skipped)
    result.update(observations=observations, skipped_lines=_summary(skipped), ignored=_summary(ignored))
    return result
