# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptop store: laptop records in Ansible's configured fact cache (controller side).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

One cache entry per identity, the record under the fact key ``roamscan``: ``roamscan-id-mac-027700000a01`` for a MAC,
``roamscan-id-<kind>-<first 32 hex digits of the SHA-256 of the value>`` for the other kinds (``roamscan-id-vpn_cert-…``);
such a key cannot be turned back into its identity, the record itself says it (``identity``).
The key is no inventory host name, so ``ansible-playbook --flush-cache``, which clears the facts of every
inventory host (the laptops are inventory hosts when the laptops inventory source is in the inventory), leaves
the records alone. Records of 0.1 (host ``mac-027700000a01``) move to their own keys on first use; other facts
stored for such a host are the host's own and stay there. The stage actions and
the inventory plugin use only :func:`open_store` and :class:`LaptopStore`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.loader import cache_loader

from ansible_collections.roamscan.qualys.plugins.plugin_utils._identity import kind_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import InvalidRecord, record_key, upgrade_record, validate_record
from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import MAC_HOST_PATTERN, mac_from_host, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import ID_KINDS
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_backend import (  # noqa: F401 pylint: disable=unused-import
    StoreError,  # the errors are part of this module's API
    StoreWriteError,
    Unreadable,
    open_backend,
)
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_lock import Fence, NotLeaseHolder, cycle_lease
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_index import (
    CATALOG_KEY,
    COMPACT_AFTER,
    INDEX_KEY,
    SNAPSHOT_KEY,
    Index,
    IndexUnusable,
    compact,
    digest,
    digest_as_record,
    parse_catalog,
    parse_snapshot,
    snapshot_value,
)

FACT_KEY = 'roamscan'
# records changed since the report snapshot that are re-read before it is rewritten (at least; or 5 % of all)
SNAPSHOT_STALE_MIN = 200
MEMORY_PLUGINS = frozenset(('memory', 'ansible.builtin.memory', 'ansible.legacy.memory'))
HOW_TO_FIX = ('roamscan keeps scan history in the fact cache. Configure a durable one that never expires, e.g. in '
              'ansible.cfg [defaults]: fact_caching = ansible.builtin.jsonfile, fact_caching_connection = <directory>, '
              'fact_caching_timeout = 0 (or ANSIBLE_CACHE_PLUGIN, ANSIBLE_CACHE_PLUGIN_CONNECTION, '
              'ANSIBLE_CACHE_PLUGIN_TIMEOUT=0); for several controllers use community.general.redis with timeout 0. '
              'The roamscan_fact_cache variable ({plugin, connection, timeout: 0}) overrides this for roamscan alone.')


class UnsafeFactCache(StoreError):
    """The configured fact cache would forget scan history."""


def open_store(settings=None, require_durable=True, read_only=False):
    """The laptop store in Ansible's configured fact cache, or in the cache ``settings`` name.

    ``settings`` (``{plugin, connection, timeout, prefix}``, the ``roamscan_fact_cache`` variable) replaces Ansible's
    fact cache configuration for the laptop records; ansible-runner and AWX point Ansible's own at a per-job
    directory. With ``require_durable``, memory caches, caches that expire entries and that per-job directory are
    refused with :class:`UnsafeFactCache`. A ``read_only`` store (check mode) writes nothing, not even its index.
    """
    settings = settings or {}
    name = settings.get('plugin') or C.CACHE_PLUGIN
    if require_durable and name in MEMORY_PLUGINS:
        raise UnsafeFactCache('The fact cache is %r: it lives only as long as one ansible-playbook run, so every '
                              'laptop would look never scanned on the next run. %s' % (name, HOW_TO_FIX))
    options = {key: settings[field] for field, key in (('connection', '_uri'), ('timeout', '_timeout'), ('prefix', '_prefix'))
               if settings.get(field) is not None}
    try:
        cache = cache_loader.get(name, **options)
    except Exception as exc:  # pylint: disable=broad-exception-caught
        # plugins raise what their backend raises when they connect (AnsibleError, OSError, redis errors)
        raise StoreError('Cache plugin %r (fact_caching) could not be opened: %s%s'
                         % (name, to_text(exc), _read_only(options.get('_uri', C.CACHE_PLUGIN_CONNECTION)))) from exc
    if cache is None:
        raise StoreError('Cache plugin %r (fact_caching) could not be loaded.' % name)
    _default_empty_prefix(cache)
    if require_durable:
        _refuse_forgetful(cache, name)
    return LaptopStore(_backend_of(cache, name), name, read_only)


def _read_only(connection):
    """Why a file cache folder may not be written that ansible-core's plugins do not say (they report "permissions")."""
    try:
        read_only = bool(connection) and bool(os.statvfs(os.path.expanduser(connection)).f_flag & os.ST_RDONLY)
    except (OSError, TypeError, ValueError):
        return ''   # not a folder: a Redis URI, or nothing to tell
    return ' (%s is on a read-only file system)' % connection if read_only else ''


def _backend_of(cache, name):
    try:
        return open_backend(cache, name)
    except StoreError:
        raise
    except Exception as exc:  # pylint: disable=broad-exception-caught
        raise StoreError('Cache plugin %r (fact_caching) could not be opened: %s' % (name, to_text(exc))) from exc


def _option(cache, name):
    try:
        return cache.get_option(name)
    except KeyError:
        return None


def _refuse_forgetful(cache, name):
    job_dir = os.environ.get('AWX_ISOLATED_DATA_DIR')
    location = _option(cache, '_uri')
    if job_dir and isinstance(location, str) and os.path.realpath(os.path.expanduser(location)).startswith(os.path.realpath(job_dir) + os.sep):
        raise UnsafeFactCache('The fact cache is %s, inside this job\'s artifacts directory (%s): ansible-runner and AWX '
                              'point Ansible\'s fact cache there for each job, so scan history would be gone by the next '
                              'job. Give roamscan its own store with the roamscan_fact_cache variable, e.g. '
                              '{plugin: community.general.redis, connection: "redis.example.net:6379:0", timeout: 0} or '
                              '{plugin: ansible.builtin.jsonfile, connection: /var/lib/roamscan/facts, timeout: 0}.'
                              % (location, job_dir))
    try:
        timeout = float(cache.get_option('_timeout'))
    except (KeyError, TypeError, ValueError, AttributeError):
        raise UnsafeFactCache('Cannot tell whether fact cache plugin %r expires entries (it has no _timeout option). %s'
                              % (name, HOW_TO_FIX)) from None
    if timeout != 0:
        raise UnsafeFactCache('The fact cache (%s) expires entries after %d seconds (fact_caching_timeout): a laptop '
                              'away for longer would lose its scan history. Set fact_caching_timeout = 0. %s'
                              % (name, timeout, HOW_TO_FIX))


def _default_empty_prefix(cache):
    """File caches list keys with len(prefix) although jsonfile's _prefix has no default (ansible/ansible#87395)."""
    try:
        if cache.get_option('_prefix') is None:
            cache.set_option('_prefix', '')
    except KeyError:
        pass  # plugin without a prefix option


RECORD_PREFIX = 'roamscan-id-mac-'
RECORD_PATTERN = re.compile(r'^roamscan-id-(?:mac-[0-9a-f]{12}|(?:%s)-[0-9a-f]{32})$'
                            % '|'.join(kind for kind in ID_KINDS if kind != 'mac'))
# a record key, or the 0.1 key (an inventory host name) of a record not yet upgraded
RECORD_OR_LEGACY_PATTERN = re.compile(r'^(?:roamscan-id-(?:mac-[0-9a-f]{12}|(?:%s)-[0-9a-f]{32})|mac-[0-9a-f]{12})$'
                                      % '|'.join(kind for kind in ID_KINDS if kind != 'mac'))


@functools.lru_cache(maxsize=None)
def store_key(identity):
    """The cache key of the record of identity key ``identity`` (computed once: a cycle asks for the same ones many
    times)."""
    kind = kind_of(identity)
    if kind == 'mac':
        return RECORD_PREFIX + normalize_mac(identity).replace(':', '')
    value = identity[len(kind) + 1:]
    return 'roamscan-id-%s-%s' % (kind, hashlib.sha256(value.encode('utf-8', 'surrogateescape')).hexdigest()[:32])


def record_mac(key):
    """The MAC of a MAC record key or of a 0.1 key (``mac-<12 hex>``), else None."""
    return mac_from_host(key[len('roamscan-id-'):] if key.startswith(RECORD_PREFIX) else key)


def _in_working_set(record):
    return record.get('lease_state') == 'active' or bool(record.get('pending'))


def _text(record):
    return json.dumps(record, separators=(',', ':'))


class LaptopStore:
    """The laptop records of one fact cache; each record is read at most once per store object.

    ``index_state`` says how the index was found on first use: ``fresh``, ``repaired`` (records written behind
    its back were re-read), ``rebuilt: <why>`` (every record read) or ``none`` (a cache plugin that cannot tell
    what changed: every cycle reads every record).
    """

    def __init__(self, backend, name, read_only=False):
        self.name = name
        self.read_only = read_only
        self.corrupt = []
        self.index_state = None
        self._backend = backend
        self._records = {}    # identity key: record handed out (callers change it, then save it)
        self._texts = {}      # cache key: JSON text of the record as read or written (the index's copy)
        self._facts = {}      # identity key: the host's other facts, when known
        self._entries = {}    # cache key: index entry of what was read or written
        self._absent = set()  # identity keys without a cache entry
        self._identities = {}  # cache key: identity key, of non-MAC records met (their keys are not reversible)
        self._index = None
        self._catalog = None
        self._catalog_id = None           # the id of the catalog stored for the index (None: not stored by this store)
        self._entries_of_catalog = None
        self._all_read = False
        self._upgraded = False
        self._legacy_blocked = set()   # macs whose 0.1 entry could not be read (never shadowed by a new record)
        self.snapshot_state = None     # how all(snapshot=True) found the report snapshot
        self._lease = cycle_lease(backend)   # one cycle at a time (_store_lock.py)
        self._holding = None                 # this cycle's lease, once taken or renewed
        self._entry_versions = {}            # non-record entries: the version read_entry saw (None: absent)

    # -- reading ---------------------------------------------------------------------------
    def _identity_of(self, key):
        """The identity key of cache key ``key`` when it is known without reading the entry, else None."""
        found = record_mac(key) or self._identities.get(key)
        if found is None and self._index is not None and key in self._index.copies:
            try:
                found = record_key(json.loads(self._index.copies[key]))
            except (InvalidRecord, ValueError, TypeError, AttributeError):
                return None
            if store_key(found) != key:
                return None
            self._identities[key] = found
        return found

    def _read(self, identities, again=False):
        keys = {store_key(identity): identity for identity in identities}
        for key, identity in keys.items():
            if record_mac(key) is None:
                self._identities[key] = identity     # the one identity whose record may be stored there
        self._read_keys(keys, again)

    def _read_keys(self, keys, again=False):
        """Read the entries of ``{cache key: identity key, or None when only the record can tell}``."""
        keys = {key: identity for key, identity in keys.items()
                if again or (key not in self._entries and identity not in self._absent)}
        if not keys:
            return
        index = self._index
        unread = []
        for key, identity in keys.items():
            if not again and identity is not None and index is not None and key in index.copies:
                # the index's copy, valid while the entry has that version (checked when the index was opened)
                self._records[identity] = upgrade_record(json.loads(index.copies[key]))
                self._texts[key] = index.copies[key]
                self._entries[key] = index.overlay[key]
                self._absent.discard(identity)
            else:
                unread.append(key)
        found = self._backend.read_many(sorted(unread)) if unread else {}
        for key in unread:
            identity = keys[key]
            if identity is not None:
                self._records.pop(identity, None)
                self._facts.pop(identity, None)
            self._texts.pop(key, None)
            if key in found:
                self._absent.discard(identity)
                self._entries[key] = self._classify(identity, key, *found[key])
            else:
                self._entries.pop(key, None)
                if identity is not None:
                    self._absent.add(identity)

    def _classify(self, identity, key, value, version):
        if isinstance(value, Unreadable):
            error = 'unreadable cache entry: %s' % value.reason
        elif not isinstance(value, dict):
            error = 'cache entry is a %s, not a mapping of facts' % type(value).__name__
        else:
            others = {name: fact for name, fact in value.items() if name != FACT_KEY}
            if FACT_KEY not in value:
                if identity is not None:
                    self._facts[identity] = others
                return [version, None, None, int(bool(others))]
            try:
                record = value[FACT_KEY]
                if identity is None:
                    # a key that cannot be reversed: the record says whose it is, and the key must be that one's
                    identity = record_key(upgrade_record(record)) if isinstance(record, dict) else None
                    if identity is None or store_key(identity) != key:
                        raise InvalidRecord('record is for identity %r, which is not stored under %s' % (identity, key))
                record = validate_record(record, identity)
            except InvalidRecord as exc:
                error = 'invalid %s record: %s' % (FACT_KEY, exc)
            else:
                self._facts[identity] = others
                self._records[identity] = record
                if _in_working_set(record):   # only the working set's copies go into the index
                    self._texts[key] = _text(record)
                if record_mac(key) is None:
                    self._identities[key] = identity
                return [version, digest(record), None, int(bool(others))]
        self.corrupt = [item for item in self.corrupt if item['host'] != key] + [{'host': key, 'error': error}]
        return [version, None, error, 0]

    def unreadable(self):
        """Identity keys whose stored entry could not be read (never overwritten); a non-MAC entry whose identity
        is not known is left out (no cycle can name it)."""
        return {self._identity_of(item['host']) for item in self.corrupt} - {None}

    def get(self, identities):
        """``{identity key: record}`` for those of ``identities`` that have a record."""
        identities = list(identities)
        self._fresh_index()
        self._read(identities)
        return {identity: self._records[identity] for identity in identities if identity in self._records}

    def all(self, snapshot=False, refresh=True):
        """Every record (coverage report, inventory plugin).

        With ``snapshot``, through the store's report snapshot (``roamscan-report-snapshot``: a copy of every readable
        record with the version of its entry): only the entries whose version changed since are read, and (with
        ``refresh``; never in check mode) the snapshot is rewritten once more than 5 % of the records (at least
        SNAPSHOT_STALE_MIN) changed since. A missing, unreadable or foreign snapshot means one full read; a snapshot
        that cannot be written is reported in ``snapshot_state``.
        """
        if not self._all_read:
            if snapshot and self._backend.supports_versions:
                self._read_through_snapshot(refresh)
            else:
                keys = self._backend.keys(RECORD_OR_LEGACY_PATTERN)   # one listing, unless 0.1 records moved
                if self._upgrade(keys):
                    keys = self._backend.keys(RECORD_PATTERN)
                self._read_keys({key: self._identity_of(key) for key in keys if RECORD_PATTERN.match(key)})
            self._all_read = True
        return dict(self._records)

    def _read_through_snapshot(self, refresh):
        versions = self._backend.versions(RECORD_OR_LEGACY_PATTERN)    # one directory scan, unless 0.1 records moved
        if self._upgrade(versions):
            versions = self._backend.versions(RECORD_PATTERN)
        else:
            versions = {key: version for key, version in versions.items() if RECORD_PATTERN.match(key)}
        try:
            kept = parse_snapshot(self.read_entry(SNAPSHOT_KEY))
        except (StoreError, IndexUnusable) as exc:
            kept, self.snapshot_state = {}, 'rebuilt: %s' % exc
        unread = {}
        for key, version in versions.items():
            entry = kept.get(key)
            record = identity = None
            mac = record_mac(key)
            if entry is not None and entry[0] == version:
                # the copy of an entry that has not changed since, checked like the entry itself (it is no less data)
                try:
                    identity = mac or record_key(upgrade_record(entry[1]))
                    record = validate_record(entry[1], identity) if store_key(identity) == key else None
                except InvalidRecord:
                    record = None
            if record is None:
                unread[key] = self._identity_of(key)
                continue
            self._records[identity] = record
            self._entries[key] = [version, digest(record), None, entry[2]]
            if mac is None:
                self._identities[key] = identity
        self._read_keys(unread)
        self.snapshot_state = self.snapshot_state or ('fresh' if not unread else 'read %d changed records' % len(unread))
        # rewriting the snapshot costs about a full read's JSON: only once the re-reads it spares are worth it
        if refresh and (len(unread) > max(SNAPSHOT_STALE_MIN, len(versions) // 20) or (unread and not kept)):
            entries = {}
            for key, entry in self._entries.items():
                identity = self._identity_of(key)
                if entry[2] is None and identity in self._records:
                    entries[key] = [entry[0], self._records[identity], entry[3]]
            try:
                self.write_entry(SNAPSHOT_KEY, snapshot_value(entries))
            except StoreError as exc:
                self.snapshot_state += ' (snapshot not saved: %s)' % exc

    def working_set(self):
        """``{identity key: record}`` a cycle may act on: open holdings and pending scans or intents."""
        index = self._fresh_index()
        if index is None:
            return {key: record for key, record in self.all().items() if _in_working_set(record)}
        keys = {key: self._identity_of(key) for key in index.working_keys()}
        self._read_keys(keys)
        found = {identity: self._records[identity] for identity in (self._identity_of(key) for key in keys)
                 if identity in self._records}
        return {key: record for key, record in found.items() if _in_working_set(record)}

    def holders(self, ips):
        """``{ip: identity key}`` of records with an open holding of one of ``ips`` (of several holders of one IP,
        the latest to take it: see holder_keys)."""
        wanted = set(ips)
        found = sorted((record['held_since'], record['ip'], key) for key, record in self.working_set().items()
                       if record.get('lease_state') == 'active' and record.get('ip') in wanted)
        return {ip: key for dummy, ip, key in found}

    def holder_keys(self, ips):
        """Identity keys of every record with an open holding of one of ``ips`` (a MAC and a domain-controller
        identity may hold one IP together)."""
        wanted = set(ips)
        return {key for key, record in self.working_set().items()
                if record.get('lease_state') == 'active' and record.get('ip') in wanted}

    def linking(self, identities):
        """``{identity key: record}`` of the stored records with a link to one of ``identities``: an authenticated link
        is kept on its holder's record only, so these are the other members of the devices ``identities`` are in,
        whether or not they hold anything now. Found through the index's digests when it is fresh."""
        wanted = set(identities)
        keys = {key for key, record in self.digests().items()
                if wanted & {link['identity'] for link in record.get('links') or ()}}
        unnamed = {key for key in keys if RECORD_PATTERN.match(key)}   # a cache key whose identity only its record says
        self._read_keys(dict.fromkeys(unnamed))
        return self.get((keys - unnamed) | ({self._identity_of(key) for key in unnamed} - {None}))

    def digests(self):
        """``{key: partial record}`` of every identity, enough for _summary.counts (known / present / overdue /
        pending); the key is the identity key when known without reading the record, else the cache key."""
        index = self._fresh_index()
        if index is not None:
            try:
                entries = dict(self._load_catalog(index))
            except IndexUnusable:
                index = None   # another writer replaced the catalog since: count from the records themselves
        if index is None:
            return {key: digest_as_record(digest(record)) for key, record in self.all().items()}
        entries.update(index.overlay)
        return {self._identity_of(key) or key: digest_as_record(entry[1]) for key, entry in entries.items()
                if entry[1] is not None}

    def read_entry(self, key):
        """The value of the non-laptop entry ``key`` (the cycle history), None when absent; StoreError when unreadable."""
        found = self._backend.read_many([key]).get(key)
        self._entry_versions[key] = found[1] if found is not None else None
        if found is None:
            return None
        if isinstance(found[0], Unreadable):
            raise StoreError('Cannot read %s in the fact cache (%s): %s' % (key, self._backend.label, found[0].reason))
        return found[0]

    def write_entry(self, key, value, fenced=False):
        """Write the non-laptop entry ``key`` (verified like a record); the index stays sealed when it was.

        Like every write, only under this cycle's lease or while no cycle holds it; ``fenced``: also only if the
        entry is still the version read_entry read (StaleRecord otherwise), so two controllers never lose each other's
        update.
        """
        self._refuse_read_only(key)
        sealed = self._backend.sealable and self._backend.unchanged(INDEX_KEY)
        fence = self._fence(())   # under this cycle's lease, or while no cycle holds it
        if fenced and fence is not None:
            fence.expected[key] = self._entry_versions.get(key)
        self._backend.write_many({key: value}, fence=fence)
        if sealed:
            # the entry is no record: the index still describes every record, so spare the next store the scan
            self._backend.seal(INDEX_KEY)

    # -- the index -------------------------------------------------------------------------
    def _fresh_index(self):
        """The index, true for the records as they are now (re-reading what changed behind its back), or None."""
        if self._index is not None or self.index_state is not None:
            return self._index
        if not self._backend.supports_versions:
            self.index_state = 'none'
            self._upgrade()
            return None
        try:
            index = self._stored_index()
        except IndexUnusable as exc:
            return self._rebuild(str(exc))
        if self._backend.unchanged(INDEX_KEY) and index.place == self._backend.place():
            self.index_state = 'fresh'
            self._index = index
            return index
        versions = self._backend.versions(RECORD_OR_LEGACY_PATTERN)
        if self._upgrade(versions):
            versions = self._backend.versions(RECORD_PATTERN)
        else:
            versions = {key: version for key, version in versions.items() if RECORD_PATTERN.match(key)}
        stale, needs_catalog = index.stale_keys(versions, self._backend.CLOCK_SKEW_NS)
        if needs_catalog:
            try:
                entries = dict(self._load_catalog(index))
            except IndexUnusable as exc:
                return self._rebuild(str(exc))
            entries.update(index.overlay)
            stale = [key for key, version in versions.items() if key not in entries or entries[key][0] != version]
            self._read_keys({key: self._identity_of(key) for key in stale}, again=True)
            entries = {key: self._entries.get(key, entries.get(key)) for key in versions}
            copies = dict(index.copies)
            copies.update(self._texts)
            self._index, self._catalog = compact({key: entry for key, entry in entries.items() if entry is not None},
                                                 copies, self._backend.CLOCK_SKEW_NS)
            self.index_state = 'repaired'
            self._save_index(catalog=True, best_effort=True)
            return self._index
        self._read_keys({key: self._identity_of(key) for key in stale}, again=True)
        for key in stale:
            if key in self._entries:
                index.update(key, self._entries[key], self._texts.get(key))
        self._index = index
        self.index_state = 'repaired' if stale else 'fresh'
        if stale:
            self._save_index(best_effort=True)
        elif self._backend.sealable:
            self._seal_index()   # the index is right as it is: a new seal spares the next store the scan
        return index

    def _stored_index(self):
        found = self._backend.read_many([INDEX_KEY]).get(INDEX_KEY)
        if found is None:
            raise IndexUnusable('no index yet')
        if isinstance(found[0], Unreadable):
            raise IndexUnusable('index unreadable: %s' % found[0].reason)
        return Index.parse(found[0])

    def _load_catalog(self, index):
        if self._catalog is None or self._catalog_id != index.catalog_id:
            found = self._backend.read_many([CATALOG_KEY]).get(CATALOG_KEY)
            if found is None or isinstance(found[0], Unreadable):
                raise IndexUnusable('catalog missing or unreadable')
            self._entries_of_catalog = parse_catalog(found[0], index.catalog_id)
            self._catalog, self._catalog_id = found[0], index.catalog_id
        return self._entries_of_catalog

    def _rebuild(self, reason):
        self.all()
        self._index, self._catalog = compact({key: entry for key, entry in self._entries.items() if RECORD_PATTERN.match(key)},
                                             self._texts, self._backend.CLOCK_SKEW_NS)
        self.index_state = 'rebuilt: %s' % reason
        self._save_index(catalog=True, best_effort=True)
        return self._index

    def _upgrade(self, keys=None):
        """Copy each 0.1 record (key ``mac-<12 hex>``) that has no record key yet to its record key.

        Returns True when some were written. Once the copies are durable, the record leaves the 0.1 entry (an
        inventory host's facts: its other facts are kept, an entry with none is removed), so the record has one home. A 0.1 entry that cannot be read
        is reported, kept, and its MAC is never written, so its history is not shadowed.
        """
        if self._upgraded:
            return False
        self._upgraded = True
        if self.read_only:
            return False   # 0.1 entries move on the next cycle that may write
        keys = set(self._backend.keys(RECORD_OR_LEGACY_PATTERN) if keys is None else keys)
        legacy = sorted(key for key in keys if MAC_HOST_PATTERN.match(key) and 'roamscan-id-' + key not in keys)
        if not legacy:
            return False
        values, left = {}, {}
        for key, (value, dummy) in sorted(self._backend.read_many(legacy).items()):
            mac = mac_from_host(key)
            if isinstance(value, Unreadable):
                error = 'unreadable cache entry: %s' % value.reason
            elif not isinstance(value, dict):
                error = 'cache entry is a %s, not a mapping of facts' % type(value).__name__
            elif FACT_KEY not in value:
                continue    # an inventory host's own facts, no roamscan record
            else:
                try:
                    values[store_key(mac)] = {FACT_KEY: validate_record(value[FACT_KEY], mac)}
                    left[key] = {name: fact for name, fact in value.items() if name != FACT_KEY}
                    continue
                except InvalidRecord as exc:
                    error = 'invalid %s record: %s' % (FACT_KEY, exc)
            self.corrupt = [item for item in self.corrupt if item['host'] != key] + [
                {'host': key, 'error': '%s (an entry of release 0.1, not upgraded)' % error}]
            self._legacy_blocked.add(mac)
        if values:
            self._backend.write_many(values)
            # only once the copies are durable: the 0.1 entry keeps the host's other facts, or goes
            kept = {key: facts for key, facts in left.items() if facts}
            if kept:
                self._backend.write_many(kept)
            self._backend.delete_many(sorted(key for key, facts in left.items() if not facts))
        return bool(values)

    def _save_index(self, catalog=False, best_effort=False):
        if self.read_only:
            # the index in memory serves this store object; the stored one stays as it is, detectably stale
            if catalog:
                self._entries_of_catalog = parse_catalog(self._catalog, self._index.catalog_id)
                self._catalog_id = self._index.catalog_id
            self.index_state += ' (index not saved: read-only)'
            return
        try:
            if catalog:
                self._backend.write_many({CATALOG_KEY: self._catalog}, fence=self._fence(()))
                self._catalog_id = self._index.catalog_id
                self._entries_of_catalog = None
                self._catalog = None        # read again when needed: compact() gave the packed value
            self._index.place = self._backend.place()
            self._backend.write_many({INDEX_KEY: self._index.dump()}, fence=self._fence(()))
            self._backend.seal(INDEX_KEY)
        except StoreWriteError as exc:
            if not best_effort:
                raise
            # reading goes on from the index in memory; the stored one stays detectably stale
            self.index_state += ' (index not saved: %s)' % exc

    def _seal_index(self):
        """Seal the index as it is, like a write: by the cycle holding the lease, or when no cycle holds it."""
        fence = self._fence(())
        try:
            if fence is None:
                self._backend.seal(INDEX_KEY)
            else:
                self._lease.write({}, fence, lambda values: self._backend.seal(INDEX_KEY))
        except NotLeaseHolder:
            pass   # the cycle holding the lease seals its own writes

    # -- the cycle lease (_store_lock.py) -----------------------------------------------------
    def take_lease(self, seconds, owner):
        """Take the store's cycle lease (raises LockHeld); None for a store that has none."""
        self._holding = self._lease.acquire(seconds, owner) if self._lease else None
        return self._holding

    def renew_lease(self, holding):
        """Renew ``holding`` (raises LockLost); every later write is fenced by it."""
        self._holding = self._lease.renew(holding) if self._lease and holding else None
        return self._holding

    def release_lease(self, holding):
        return bool(self._lease and holding and self._lease.release(holding))

    def _fence(self, values):
        """The write's fence: this cycle's lease and the version each of ``values``' entries had when read."""
        if self._lease is None:
            return None
        return Fence(self._lease, self._holding, {key: self._entries[key][0] if key in self._entries else None for key in values})

    # -- writing ---------------------------------------------------------------------------
    def _refuse_read_only(self, key):
        if self.read_only:
            raise StoreWriteError('Refusing to write %s in the fact cache (%s): this store was opened read-only (check mode)'
                                  % (key, self._backend.label))

    def save(self, records, identities):
        """Write ``records[identity]`` for each of ``identities`` (the host's other facts kept), verified, then the index.

        Raises StoreWriteError naming the entry and the reason when a write fails or does not read back; nothing
        is written then, or (a failure between the atomic renames, or of the index) the records written so far
        are complete and the index, left stale, is repaired from them on next use. An entry that could not be
        read is never overwritten.
        """
        identities = sorted(identities)
        if not identities:
            return 0
        self._refuse_read_only(store_key(identities[0]))
        index = self._fresh_index()
        self._read(identities)
        for identity in identities:
            if identity in self._legacy_blocked:
                raise StoreWriteError('Refusing to write %s in the fact cache (%s): the entry of release 0.1 for this MAC, '
                                      'mac-%s, could not be read' % (store_key(identity), self._backend.label, identity.replace(':', '')))
            entry = self._entries.get(store_key(identity))
            if entry is not None and entry[2] is not None:
                raise StoreWriteError('Refusing to overwrite %s in the fact cache (%s): its entry could not be read (%s)'
                                      % (store_key(identity), self._backend.label, entry[2]))
        # hosts whose other facts are known only to exist (the record came from the index's copy)
        self._read([identity for identity in identities
                    if identity not in self._facts and self._entries.get(store_key(identity), [None] * 4)[3]], again=True)
        values = {}
        for identity in identities:
            host_facts = dict(self._facts.get(identity) or {})
            host_facts[FACT_KEY] = records[identity]
            values[store_key(identity)] = host_facts
        versions = self._backend.write_many(values, fence=self._fence(values))
        for identity in identities:
            key = store_key(identity)
            existed = key in self._entries
            entry = [versions[key], digest(records[identity]), None, int(bool(self._facts.get(identity)))]
            self._entries[key] = entry
            self._texts[key] = _text(records[identity])
            self._records[identity] = records[identity]
            self._absent.discard(identity)
            if index is not None:
                if existed and key not in index.overlay:
                    index.catalog_only -= 1
                index.update(key, entry, self._texts[key])
        if index is not None:
            if index.outside_working_set() > COMPACT_AFTER:
                try:
                    entries = dict(self._load_catalog(index))
                except IndexUnusable:
                    # another writer replaced the catalog since this store read the index: the records are written;
                    # drop the index so that the next store rebuilds it from the records as they are on disk
                    self._backend.delete_many([INDEX_KEY])
                    self._index, self.index_state = None, 'dropped: the catalog changed behind it'
                    return len(identities)
                entries.update(index.overlay)
                self._index, self._catalog = compact(entries, index.copies, self._backend.CLOCK_SKEW_NS)
                self._save_index(catalog=True)
            else:
                self._save_index()
        return len(identities)
