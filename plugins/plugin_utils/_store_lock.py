# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cycle at a time per laptop store: a lease kept in the store itself, and fenced writes.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

The *cycle lease* is taken by cycle_check, renewed by every later stage, released by cycle_summary and taken over
once it expired (its holder died). Each take gives a larger *token* (a fencing token). A :class:`Fence` goes with
every write of the store: the write happens only while the lease still has this token and has not expired
(:class:`LockLost` otherwise), and only when each record's stored version is still the one the writer read
(:class:`StaleRecord` otherwise: two writers never overwrite each other's update unnoticed).

- files (ansible.builtin.jsonfile and the other file caches): ``<cache dir>/.<prefix>roamscan-lock/lease`` (JSON: token,
  owner, host, pid, since, expires), replaced by rename while holding ``flock`` on ``guard`` next to it. A
  fenced write holds the same ``flock`` from its checks to its last rename. The lock lives in a sub-directory so that
  taking and releasing it leaves the record directory's seal (_store_index.py) intact.
- Redis: key ``<prefix>roamscan-cycle-lock`` taken with ``SET NX PX``, the token from ``INCR
  <prefix>roamscan-cycle-lock-token``; renewal and release compare the token in one Lua script; a fenced write
  WATCHes the lease and the records, checks them, then runs its transaction (which fails if either changed).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import tempfile
import time

from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_backend import (
    OWNER_ONLY_DIR,
    FileBackend,
    RedisBackend,
    StoreError,
    StoreWriteError,
    file_version,
    score_version,
)

# hidden (no cache plugin lists it), one per key prefix (each prefix is a store of its own)
LOCK_DIRECTORY = '.%sroamscan-lock'
REDIS_LEASE_KEY = 'roamscan-cycle-lock'
REDIS_TOKEN_KEY = 'roamscan-cycle-lock-token'

_REDIS_RENEW = """
local held = redis.call('GET', KEYS[1])
if held and cjson.decode(held)['token'] == tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
"""
_REDIS_RELEASE = """
local held = redis.call('GET', KEYS[1])
if held and cjson.decode(held)['token'] == tonumber(ARGV[1]) then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LockHeld(StoreError):
    """Another cycle holds the store's lease; ``holder`` says who and since when."""

    def __init__(self, holder, label):
        self.holder = holder
        super().__init__('another cycle is running on %s (pid %s) since %s (lease until %s, %s)'
                         % (holder.get('host'), holder.get('pid'), _time(holder.get('since')),
                            _time(holder.get('expires')), label))


class LockLost(StoreWriteError):
    """This cycle's lease expired or was taken over: it writes nothing more."""


class NotLeaseHolder(StoreWriteError):
    """A store that holds no lease (a skipped cycle, a report, check mode) writes nothing while a cycle holds it."""


class StaleRecord(StoreWriteError):
    """A record changed after this writer read it: writing would lose the other update."""


def _time(epoch):
    return iso_time(epoch) if isinstance(epoch, (int, float)) else 'an unknown time'


def _description(token, seconds, now, owner):
    return {'token': token, 'owner': owner, 'host': socket.gethostname(), 'pid': os.getpid(),
            'since': now, 'expires': now + seconds}


def cycle_lease(backend):
    """The lease of the store ``backend`` is (None for a cache plugin reached only through its API)."""
    if isinstance(backend, FileBackend):
        return FileLease(backend)
    if isinstance(backend, RedisBackend):
        return RedisLease(backend)
    return None


class Fence:
    """What a write must still find true: the lease ``lease`` (a held lease description; None: no cycle may hold it)
    and, per cache key, the version the writer read (None: no entry). Keys not named are written unchecked (the
    index: it is repaired from the records' versions)."""

    def __init__(self, lease, holding, expected):
        self.lease = lease
        self.holding = holding
        self.expected = dict(expected)

    def check_lease(self, found):
        if self.holding is None:
            # a writer without the lease (a skipped cycle repairing the index, a report) would write under the holder
            if isinstance(found, dict) and found.get('token') is not None and found.get('expires', 0) > time.time():
                raise NotLeaseHolder('Not writing to %s: the cycle on %s (pid %s) holds its lease since %s'
                                     % (self.lease.label, found.get('host'), found.get('pid'), _time(found.get('since'))))
            return
        token = self.holding['token']
        if not isinstance(found, dict) or found.get('token') != token:
            raise LockLost('This cycle lost its lease on %s (token %s; now %s): it writes nothing'
                           % (self.lease.label, token, 'held by %s since %s' % (found.get('host'), _time(found.get('since')))
                              if isinstance(found, dict) and found.get('token') is not None else 'free'))
        if found.get('expires', 0) <= time.time():
            raise LockLost('This cycle\'s lease on %s expired at %s: it writes nothing' % (self.lease.label, _time(found.get('expires'))))

    def check_versions(self, current):
        stale = sorted(key for key, version in self.expected.items() if current.get(key) != version)
        if stale:
            raise StaleRecord('Refusing to write %s in %s: changed by another writer since this one read %s'
                              % (', '.join(stale[:5]), self.lease.label, 'it' if len(stale) == 1 else 'them'))


class FileLease:
    """The lease of a file cache directory."""

    def __init__(self, backend):
        self.backend = backend
        self.label = backend.label
        self.directory = os.path.join(backend.directory, LOCK_DIRECTORY % backend.prefix)
        self.path = os.path.join(self.directory, 'lease')

    @contextlib.contextmanager
    def _guarded(self):
        try:
            os.makedirs(self.directory, mode=OWNER_ONLY_DIR, exist_ok=True)
            descriptor = os.open(os.path.join(self.directory, 'guard'), os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StoreError('Cannot open the cycle lock in %s: %s' % (self.directory, exc)) from exc
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            yield
        finally:
            os.close(descriptor)   # releases the flock

    def _read(self):
        try:
            with open(self.path, encoding='utf-8') as handle:
                found = json.load(handle)
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            # a torn lease cannot happen (rename); an unreadable one is treated as expired, its token kept unknown
            return {'unreadable': str(exc), 'token': 0}
        return found if isinstance(found, dict) else {'token': 0}

    def _write(self, lease):
        try:
            handle, temporary = tempfile.mkstemp(dir=self.directory, prefix='.lease-')
            with os.fdopen(handle, 'w', encoding='utf-8') as stream:
                json.dump(lease, stream)
                stream.flush()
                os.fsync(stream.fileno())
            os.rename(temporary, self.path)   # the atomic take-over: the lease is always whole
        except OSError as exc:
            raise StoreWriteError('Cannot write the cycle lock %s: %s' % (self.path, exc)) from exc

    def acquire(self, seconds, owner):
        """Take the lease for ``seconds``; raises LockHeld when another cycle holds it unexpired. A lease that was
        still held when it expired is returned with ``took_over``: ``{host, pid, since, expires}`` of that holder."""
        with self._guarded():
            found = self._read()
            now = time.time()
            if found.get('held') and found.get('expires', 0) > now:
                raise LockHeld(found, self.label)
            lease = dict(_description(int(found.get('token') or 0) + 1, seconds, now, owner), held=True, seconds=seconds)
            self._write(lease)
            if found.get('held'):
                # its holder died without releasing it: this cycle resumes what that one left undone
                return dict(lease, took_over={key: found.get(key) for key in ('host', 'pid', 'since', 'expires')})
            return lease

    def renew(self, holding):
        with self._guarded():
            fence = Fence(self, holding, {})
            found = self._read()
            fence.check_lease(found if found.get('held') else {})
            found['expires'] = time.time() + holding['seconds']
            self._write(found)
            return found

    def release(self, holding):
        """Give the lease up if this cycle still holds it (the token stays, so the next one is larger)."""
        with self._guarded():
            found = self._read()
            if found.get('held') and found.get('token') == holding['token']:
                found.update(held=False, released=time.time())
                self._write(found)
                return True
            return False

    def write(self, values, fence, write):
        """Run ``write(values)`` (the backend's write) only while ``fence`` holds; the guard stays held until it is done."""
        with self._guarded():
            found = self._read()
            fence.check_lease(found if found.get('held') else {})
            current = {}
            for key in fence.expected:
                try:
                    current[key] = file_version(os.stat(self.backend.path(key)))
                except FileNotFoundError:
                    current[key] = None
                except OSError as exc:
                    raise StoreError('Cannot read %s: %s' % (self.backend.path(key), exc)) from exc
            fence.check_versions(current)
            return write(values)


class RedisLease:
    """The lease of a community.general.redis store."""

    def __init__(self, backend):
        self.backend = backend
        self.label = backend.label
        self.key = backend.prefix + REDIS_LEASE_KEY
        self.token_key = backend.prefix + REDIS_TOKEN_KEY

    def acquire(self, seconds, owner):
        db = self.backend.db
        token = self.backend._call('take the cycle lock', db.incr, self.token_key)
        lease = dict(_description(int(token), seconds, time.time(), owner), held=True, seconds=seconds)
        if self.backend._call('take the cycle lock', db.set, self.key, json.dumps(lease), nx=True, px=int(seconds * 1000)):
            # on a replica before it counts: a failover must neither forget the lease nor hand its token out again
            self.backend._replicated([self.key])
            return lease
        found = self.backend._call('read the cycle lock', db.get, self.key)
        raise LockHeld(_parsed(found), self.label)

    def renew(self, holding):
        holding = dict(holding, expires=time.time() + holding['seconds'])
        renewed = self.backend._call('renew the cycle lock', self.backend.db.eval, _REDIS_RENEW, 1, self.key,
                                     holding['token'], json.dumps(holding), int(holding['seconds'] * 1000))
        if not renewed:
            found = self.backend._call('read the cycle lock', self.backend.db.get, self.key)
            Fence(self, holding, {}).check_lease(_parsed(found))
        return holding

    def release(self, holding):
        return bool(self.backend._call('release the cycle lock', self.backend.db.eval, _REDIS_RELEASE, 1, self.key,
                                       holding['token']))

    def write(self, values, fence, write):
        """``write(values, transaction)`` in a transaction that WATCHes the lease and the records checked first."""
        backend = self.backend
        stored = {key: backend.stored_key(key) for key in fence.expected}
        watched = [self.key] + [backend.prefix + item for item in stored.values()]
        transaction = backend.db.pipeline(transaction=True)
        try:
            backend._call('check the cycle lock', transaction.watch, *watched)
            fence.check_lease(_parsed(backend._call('read the cycle lock', transaction.get, self.key)))
            if stored:
                scores = backend._call('read versions', transaction.zmscore, backend.keys_set, list(stored.values()))
                fence.check_versions({key: None if score is None else score_version(score)
                                      for key, score in zip(stored, scores)})
            transaction.multi()
            try:
                return write(values, transaction)
            except StoreWriteError as exc:
                if type(exc.__cause__).__name__ == 'WatchError':   # redis-py: the lease or a record changed meanwhile
                    raise StaleRecord('Refusing to write to %s: the cycle lease or a record changed while writing'
                                      % self.label) from exc
                raise
        finally:
            transaction.reset()


def _parsed(text):
    try:
        found = json.loads(text) if text else {}
    except ValueError:
        return {'token': None}
    return found if isinstance(found, dict) else {'token': None}
