# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage under the laptop store: verified, atomic reads and writes of cache entries.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

A backend stores entries in the on-disk / in-Redis format of the cache plugin it was opened from (including
ansible-core 2.19+'s ``s1_`` keys with a ``__payload__``), so Ansible and earlier roamscan releases read them
unchanged, but it does what the plugins do not: a write is atomic and read back, a failed write raises
:class:`StoreWriteError` (the plugins only warn, and jsonfile then leaves an empty file), and a corrupt entry is
reported and kept (jsonfile deletes it). It also tells what changed since the index was written: a *version* per
entry (file: inode, ctime, size; Redis: the key set's score) and, for files, a seal of the whole directory.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import stat
import tempfile
import time

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.cache import BaseFileCacheModule
from ansible.plugins.loader import cache_loader

from ansible_collections.roamscan.qualys.plugins.module_utils._spool import fsync_dir as fsync_path

# ansible-core 2.19+'s cache entry: {__payload__: JSON text}, a tagged value inside marked by its type key
PAYLOAD_KEY = '__payload__'
TAGGED = '"__ansible_type"'
OWNER_ONLY_DIR = 0o700
OWNER_ONLY_FILE = 0o600
# A coarse file system clock gives every change within one tick the same time stamp: the seal waits one
# tick after the index is written so that any later change shows as a different directory time.
CLOCK_TICK_NS = 20_000_000
# a Redis write with replicas (Sentinel) counts once a replica has it, within this time
REPLICA_WAIT_MS = 5000
REPLICATION_MARKER = 'roamscan-replication-marker'   # no fact cache entry: not in the plugin's key set


class StoreError(Exception):
    """The laptop store cannot be used; the message names the store and the reason."""


class StoreWriteError(StoreError):
    """A write that failed or did not read back."""


class Unreadable:
    """An entry whose content cannot be decoded (kept in place, reported)."""

    def __init__(self, reason):
        self.reason = reason


def open_backend(cache, name):
    """The backend for a loaded cache plugin (maybe wrapped by ansible-core's key/payload interposer)."""
    plugin = getattr(cache, '__wrapped__', cache)
    if isinstance(plugin, BaseFileCacheModule):
        return FileBackend(cache, plugin, name)
    if all(hasattr(plugin, attr) for attr in ('_db', '_keys_set', '_prefix')) and name.endswith('redis'):
        return RedisBackend(cache, plugin, name)
    return PluginBackend(cache, plugin, name)


class _Backend:
    """Shared: the interposer's key prefix and payload encoding (ansible-core 2.19+) or none (older)."""

    # versions older than the index seal by more than this are taken to be the ones the index knows
    # (Redis scores come from each writer's clock)
    CLOCK_SKEW_NS = 600 * 1_000_000_000
    supports_versions = True
    sealable = False

    def __init__(self, cache, plugin, name):
        self.cache = cache
        self.plugin = plugin
        self.name = name
        self._wrapped = cache is not plugin

    def stored_key(self, key):
        return self.cache._get_key(key) if self._wrapped else key

    def logical_key(self, stored):
        return self.cache._restore_key(stored) if self._wrapped else stored

    def encode(self, value):
        return self.cache._encode(value) if self._wrapped else value

    def decode(self, stored):
        if not self._wrapped:
            return stored
        payload = stored.get(PAYLOAD_KEY) if isinstance(stored, dict) else None
        if isinstance(payload, str) and TAGGED not in payload and '\\u' not in payload:
            # nothing tagged and no escaped character: what ansible-core's decoder returns, at a fraction of its cost
            return json.loads(payload)
        return self.cache._decode(stored)

    def _decoded(self, stored):
        try:
            value = self.decode(stored)
        except (ValueError, TypeError, KeyError) as exc:
            return Unreadable('undecodable payload: %s' % to_text(exc)[:200])
        return value

    def unchanged(self, key):
        """True when nothing was written since entry ``key`` was written and sealed (cheap; False when it cannot tell)."""
        return False

    def place(self):
        """What tells this store from a copy of it that kept its times (None: no seal to mistake)."""
        return None

    def delete_many(self, keys):
        """Remove entries ``keys`` through the cache plugin's own delete."""
        for key in keys:
            try:
                self.cache.delete(key)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # the plugins raise what their backend raises (OSError, redis errors)
                raise StoreWriteError('Cannot remove %s from the fact cache (%s): %s' % (key, self.label, to_text(exc)[:300])) from exc

    def seal(self, key):
        """Mark the current state as the one entry ``key`` (the index, just written) describes."""
        return False


class FileBackend(_Backend):
    """A BaseFileCacheModule (ansible.builtin.jsonfile, ...): one file per entry in one directory."""

    sealable = True

    def __init__(self, cache, plugin, name):
        super().__init__(cache, plugin, name)
        self.directory = plugin._cache_dir
        self.prefix = plugin.get_option('_prefix') or ''
        self.label = self.directory
        self._restrict_directory()

    def _restrict_directory(self):
        # MACs, IPs and host names are personal data: the folder is its owner's only
        try:
            info = os.stat(self.directory)
            if _too_open(info):
                os.chmod(self.directory, stat.S_IMODE(info.st_mode) & OWNER_ONLY_DIR)
        except OSError as exc:
            raise StoreError('Cannot restrict the fact cache directory %s to its owner: %s' % (self.directory, exc)) from exc

    def path(self, key):
        return self.plugin._get_cache_file_name(self.stored_key(key))

    def keys(self, pattern=None):
        return list(self.versions(pattern))

    def versions(self, pattern=None):
        """``{key: version}`` of the entries whose key matches ``pattern`` (a compiled regex), from one directory scan."""
        found = {}
        head = self.prefix
        try:
            with os.scandir(self.directory) as entries:
                for entry in entries:
                    name = entry.name
                    if not name.startswith(head) or name.startswith('.'):
                        continue
                    key = self.logical_key(name[len(head):])
                    if key is None or (pattern is not None and not pattern.match(key)):
                        continue
                    info = entry.stat(follow_symlinks=False)
                    if _too_open(info):
                        # written by Ansible's plugin or an earlier release (0644)
                        os.chmod(entry.path, OWNER_ONLY_FILE)
                        info = os.stat(entry.path, follow_symlinks=False)
                    found[key] = file_version(info)
        except OSError as exc:
            raise StoreError('Cannot list the fact cache directory %s: %s' % (self.directory, exc)) from exc
        return found

    def read_many(self, keys):
        """``{key: (value or Unreadable, version)}`` for the keys that exist."""
        found = {}
        for key in keys:
            path = self.path(key)
            try:
                with open(path, 'rb') as handle:
                    info = os.fstat(handle.fileno())
                    if _too_open(info):
                        os.fchmod(handle.fileno(), OWNER_ONLY_FILE)   # written by Ansible's plugin (0644)
                        info = os.fstat(handle.fileno())
                    version = file_version(info)
                    text = handle.read()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise StoreError('Cannot read %s: %s' % (path, exc)) from exc
            try:
                stored = json.loads(text)
            except ValueError as exc:
                found[key] = (Unreadable('not valid JSON (%d bytes): %s' % (len(text), to_text(exc)[:200])), version)
                continue
            found[key] = (self._decoded(stored), version)
        return found

    def write_many(self, values, fence=None):
        """Write ``{key: value}``: each to a temporary file read back and compared, all made durable, then each
        renamed over its entry and the directory synced. Returns ``{key: version}``.

        A failure before the renames changes nothing; each rename is atomic, so no entry is ever empty or torn.
        With a ``fence`` (_store_lock.py) the write happens only while the cycle's lease and the read versions hold.
        """
        if fence is not None:
            return fence.lease.write(values, fence, self._write_many)
        return self._write_many(values)

    def _write_many(self, values):
        prepared, path = [], self.directory
        try:
            for key, value in values.items():
                path = self.path(key)
                handle, temporary = tempfile.mkstemp(dir=self.directory, prefix='.roamscan-')
                os.close(handle)
                prepared.append((key, temporary, path))
                stored = self.encode(value)
                self.plugin._dump(stored, temporary)   # the plugin's own serialization: its on-disk format
                if self.plugin._load(temporary) != stored:
                    raise StoreWriteError('Writing %s did not read back: content differs' % path)
            path = self.directory
            _make_durable([temporary for dummy, temporary, dummy in prepared], self.directory)
            versions = {}
            for key, temporary, path in prepared:
                written = os.stat(temporary).st_ino
                self._publish(temporary, path)
                info = os.stat(path)
                if info.st_ino != written:
                    raise StoreWriteError('Writing %s did not read back: replaced by another writer' % path)
                versions[key] = file_version(info)
            path = self.directory
            fsync_path(self.directory)
        except (OSError, ValueError) as exc:
            raise StoreWriteError('Cannot write %s: %s' % (path, exc)) from exc
        finally:
            for dummy, temporary, dummy in prepared:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
        return versions

    def _publish(self, temporary, path):
        os.rename(temporary, path)

    def unchanged(self, key):
        """True when nothing in the directory was created, renamed or removed since ``key`` was written and sealed.

        Every writer of ansible-core 2.19+'s file caches (and this one) writes a temporary file and renames it, which
        changes the directory's time; the seal is that time, kept as the modification time of the entry ``key``.
        """
        try:
            return os.stat(self.directory).st_mtime_ns == os.stat(self.path(key)).st_mtime_ns
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise StoreError('Cannot read the fact cache directory %s: %s' % (self.directory, exc)) from exc

    def place(self):
        """The directory's device and inode: a copy (cp -a, rsync -a, a restored backup) keeps the seal's times, not these."""
        try:
            info = os.stat(self.directory)
        except OSError as exc:
            raise StoreError('Cannot read the fact cache directory %s: %s' % (self.directory, exc)) from exc
        return '%x.%x' % (info.st_dev, info.st_ino)

    def seal(self, key):
        """Seal the directory's state into entry ``key``, once the clock has moved past it; False if it changed meanwhile."""
        try:
            first = os.stat(self.directory).st_mtime_ns
            give_up = time.monotonic_ns() + CLOCK_TICK_NS   # a directory time in the future (skewed NFS server)
            while time.time_ns() < first + CLOCK_TICK_NS and time.monotonic_ns() < give_up:
                time.sleep(CLOCK_TICK_NS / 1e9 / 4)
            if os.stat(self.directory).st_mtime_ns != first:
                return False
            os.utime(self.path(key), ns=(first, first))
        except OSError as exc:
            raise StoreWriteError('Cannot seal %s: %s' % (self.path(key), exc)) from exc
        return True


def _too_open(info):
    """Readable by others, and ours to restrict."""
    return bool(stat.S_IMODE(info.st_mode) & 0o077) and info.st_uid == os.geteuid()


def file_version(info):
    return [info.st_ctime_ns, '%x.%x' % (info.st_ino, info.st_size)]


def _make_durable(paths, directory):
    """fsync each file; many at once with one syncfs of their file system (Linux), which costs about one fsync."""
    syncfs = getattr(_libc(), 'syncfs', None) if len(paths) > 8 else None
    if syncfs is not None:
        descriptor = os.open(directory, os.O_RDONLY)
        try:
            if syncfs(descriptor) != 0:
                number = ctypes.get_errno()
                raise OSError(number, os.strerror(number))
            return
        finally:
            os.close(descriptor)
    for path in paths:
        fsync_path(path)


def _libc():
    try:
        return ctypes.CDLL(None, use_errno=True)
    except OSError:
        return None


class RedisBackend(_Backend):
    """community.general.redis: values at ``<prefix><key>``, keys in a sorted set scored by write time."""

    CHUNK = 1000

    def __init__(self, cache, plugin, name):
        super().__init__(cache, plugin, name)
        self.db = plugin._db
        self.keys_set = plugin._keys_set
        self.prefix = plugin._prefix
        self.label = 'redis://%s' % _redis_location(plugin.get_option('_uri'))

    def _call(self, what, function, *args, **kwargs):
        try:
            return function(*args, **kwargs)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # redis-py raises ConnectionError, TimeoutError, ResponseError, ... (all RedisError)
            error = StoreWriteError if what.startswith(('write', 'read back')) else StoreError
            raise error('Cannot %s in %s: %s' % (what, self.label, to_text(exc)[:300])) from exc

    def versions(self, pattern=None):
        found = {}
        for raw, score in self._call('list the entries', self.db.zrange, self.keys_set, 0, -1, withscores=True):
            key = self.logical_key(to_text(raw))
            if key is not None and (pattern is None or pattern.match(key)):
                found[key] = score_version(score)
        return found

    def keys(self, pattern=None):
        return list(self.versions(pattern))

    def read_many(self, keys):
        from ansible.parsing.ajson import AnsibleJSONDecoder  # pylint: disable=import-outside-toplevel
        keys = list(keys)
        found = {}
        for start in range(0, len(keys), self.CHUNK):
            chunk = keys[start:start + self.CHUNK]
            stored = [self.stored_key(key) for key in chunk]
            pipe = self.db.pipeline(transaction=False)
            pipe.mget([self.prefix + item for item in stored])
            for item in stored:
                pipe.zscore(self.keys_set, item)
            answers = self._call('read entries', pipe.execute)
            for key, text, score in zip(chunk, answers[0], answers[1:]):
                if text is None:
                    continue
                try:
                    value = self._decoded(json.loads(text, cls=AnsibleJSONDecoder))
                except ValueError as exc:
                    value = Unreadable('not valid JSON (%d bytes): %s' % (len(text), to_text(exc)[:200]))
                found[key] = (value, score_version(score or 0.0))
        return found

    def write_many(self, values, fence=None):
        """SET and ZADD (the plugin's two commands) of every entry in one transaction, then GET each back.

        With a ``fence`` (_store_lock.py) the transaction WATCHes the cycle's lease and the records it checked first.
        """
        if fence is not None:
            return fence.lease.write(values, fence, self._write_many)
        return self._write_many(values)

    def _write_many(self, values, transaction=None):
        from ansible.parsing.ajson import AnsibleJSONEncoder  # pylint: disable=import-outside-toplevel
        texts = {self.stored_key(key): json.dumps(self.encode(value), cls=AnsibleJSONEncoder, sort_keys=True, indent=4)   # the plugin's format
                 for key, value in values.items()}
        score = time.time()
        if transaction is None:
            transaction = self.db.pipeline(transaction=True)
        for stored, text in texts.items():
            transaction.set(self.prefix + stored, text)
            transaction.zadd(self.keys_set, {stored: score})
        self._publish(transaction, sorted(texts))
        self._replicated(sorted(texts))
        check = self.db.pipeline(transaction=False)
        check.mget([self.prefix + stored for stored in texts])
        check.zmscore(self.keys_set, list(texts))
        back, scores = self._call('read back %s' % ', '.join(sorted(texts)[:3]), check.execute)
        for (stored, text), value, stored_score in zip(texts.items(), back, scores):
            if to_bytes(value or b'') != to_bytes(text) or stored_score != score:
                raise StoreWriteError('Writing %s to %s did not read back' % (stored, self.label))
        return {key: score_version(score) for key in values}

    def _publish(self, transaction, stored_keys):
        self._call('write %s' % ', '.join(stored_keys[:3]), transaction.execute)

    def _replicated(self, stored_keys):
        """With replicas, wait until one has the write: Sentinel promotes the most up-to-date replica when the master
        dies, so a write acknowledged here survives the failover. WAIT counts the writes of its own connection, and
        replication keeps order, so a marker written on WAIT's connection after the write stands for it."""
        what = 'write %s (replication)' % ', '.join(stored_keys[:3])
        if not self._call(what, self.db.info, 'replication').get('connected_slaves'):
            return
        marker = self.db.pipeline(transaction=False)
        marker.incr(self.prefix + REPLICATION_MARKER)
        marker.execute_command('WAIT', 1, REPLICA_WAIT_MS)
        dummy, copied = self._call(what, marker.execute)
        if int(copied) < 1:
            raise StoreWriteError('Writing %s to %s: no replica confirmed it within %d ms, so a failover could lose it'
                                  % (', '.join(stored_keys[:3]), self.label, REPLICA_WAIT_MS))


def score_version(score):
    return [int(score * 1e9), repr(float(score))]


def _redis_location(uri):
    """``host:port:db`` of a community.general.redis connection string, without its password."""
    match = re.match(r'^(tls://)?([^:]+|\[[^]]+\]):(\d+):(\d+)', uri or '')
    if not match:
        return '(sentinel or unparsed connection)' if uri else '(default connection)'
    return '%s:%s/%s' % match.group(2, 3, 4)


class PluginBackend(_Backend):
    """Any other cache plugin, through its API only: no versions, so no index (every cycle reads every record)."""

    supports_versions = False

    def __init__(self, cache, plugin, name):
        super().__init__(cache, plugin, name)
        self.label = name

    def _call(self, what, function, *args):
        try:
            return function(*args)
        except KeyError:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            error = StoreWriteError if what.startswith('write') else StoreError
            raise error('Cannot %s in the fact cache (%s): %s' % (what, self.label, to_text(exc)[:300])) from exc

    def keys(self, pattern=None):
        raw = self._call('list the entries', self.cache.keys)
        return [key for key in (to_text(item) for item in raw) if pattern is None or pattern.match(key)]

    def versions(self, pattern=None):
        return dict.fromkeys(self.keys(pattern))

    def read_many(self, keys):
        found = {}
        for key in keys:
            try:
                found[key] = (self.cache.get(key), None)
            except KeyError:
                continue
            except Exception as exc:  # pylint: disable=broad-exception-caught
                found[key] = (Unreadable('unreadable cache entry: %s' % to_text(exc)[:300]), None)
        return found

    def write_many(self, values, fence=None):
        del fence   # no versions and no lock through a plugin's API
        options = {}
        for option in ('_uri', '_timeout', '_prefix'):
            try:
                if self.plugin.get_option(option) is not None:
                    options[option] = self.plugin.get_option(option)
            except KeyError:
                pass
        for key, value in values.items():
            self._call('write %s' % key, self.cache.set, key, value)
            # plugins keep what they set in memory: read the stored copy through a fresh plugin object
            fresh = cache_loader.get(self.name, **options)
            try:
                back = fresh.get(key)
            except Exception as exc:  # pylint: disable=broad-exception-caught
                raise StoreWriteError('Writing %s to the fact cache (%s) did not read back: %s' % (key, self.label, to_text(exc)[:300])) from exc
            if back != value:
                raise StoreWriteError('Writing %s to the fact cache (%s) did not read back: content differs' % (key, self.label))
        return dict.fromkeys(values)
