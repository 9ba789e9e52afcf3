# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptop store: laptop records in Ansible's configured fact cache (controller side).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

One cache entry per laptop (host ``mac-027700000a01``), the record under the fact key ``roamscan``;
other facts stored for that host are kept as they are. The stage actions and the inventory plugin
use only :func:`open_store` and :class:`LaptopStore`.
"""

from __future__ import annotations

import os

from ansible import constants as C
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.loader import cache_loader

from ansible_collections.roamscan.qualys.plugins.module_utils.planner import InvalidRecord, validate_record
from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import MAC_HOST_PATTERN, mac_from_host, mac_host_name

FACT_KEY = 'roamscan'
MEMORY_PLUGINS = frozenset(('memory', 'ansible.builtin.memory', 'ansible.legacy.memory'))
HOW_TO_FIX = ('roamscan keeps scan history in the fact cache. Configure a durable one that never expires, e.g. in '
              'ansible.cfg [defaults]: fact_caching = ansible.builtin.jsonfile, fact_caching_connection = <directory>, '
              'fact_caching_timeout = 0 (or ANSIBLE_CACHE_PLUGIN, ANSIBLE_CACHE_PLUGIN_CONNECTION, '
              'ANSIBLE_CACHE_PLUGIN_TIMEOUT=0); for several controllers use community.general.redis with timeout 0. '
              'The roamscan_fact_cache variable ({plugin, connection, timeout: 0}) overrides this for roamscan alone.')


class StoreError(Exception):
    """The laptop store cannot be used; the message names the store and the reason."""


class UnsafeFactCache(StoreError):
    """The configured fact cache would forget scan history."""


class StoreWriteError(StoreError):
    """A record write that failed or did not read back."""


def open_store(settings=None, require_durable=True):
    """The laptop store in Ansible's configured fact cache, or in the cache ``settings`` name.

    ``settings`` (``{plugin, connection, timeout, prefix}``, the ``roamscan_fact_cache`` variable) replaces Ansible's
    fact cache configuration for the laptop records; ansible-runner and AWX point Ansible's own at a per-job
    directory. With ``require_durable``, memory caches, caches that expire entries and that per-job directory are
    refused with :class:`UnsafeFactCache`.
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
        raise StoreError('Cache plugin %r (fact_caching) could not be opened: %s' % (name, to_text(exc))) from exc
    if cache is None:
        raise StoreError('Cache plugin %r (fact_caching) could not be loaded.' % name)
    _default_empty_prefix(cache)
    if require_durable:
        _refuse_forgetful(cache, name)
    return LaptopStore(cache, name)


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


def _cache_keys(cache):
    try:
        return cache.keys()
    except TypeError:
        # ansible-core 2.19+ wraps cache plugins to add a schema prefix to keys and strips it with a str
        # comparison; community.general.redis returns its keys as bytes, which breaks that comparison.
        wrapped = getattr(cache, '__wrapped__', None)
        restore = getattr(cache, '_restore_key', None)
        if wrapped is None or restore is None:
            raise
        return [key for key in (restore(to_text(raw)) for raw in wrapped.keys()) if key is not None]


class LaptopStore:
    """The laptop records of one fact cache; each record is read at most once per store object."""

    def __init__(self, cache, name):
        self.name = name
        self.corrupt = []
        self._cache = cache
        self._facts = {}      # mac: every fact of that host as read (written back around the record)
        self._records = {}    # mac: record, for the macs read so far
        self._missing = set()
        self._all_read = False

    def _laptop_macs(self):
        macs = []
        for key in self._call('list the laptops', _cache_keys, self._cache):
            mac = mac_from_host(to_text(key))
            if mac:
                macs.append(mac)
        return sorted(macs)

    def _call(self, what, function, *args):
        try:
            return function(*args)
        except StoreError:
            raise
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # cache plugins raise what their backend raises (AnsibleError, OSError, redis errors)
            raise StoreError('Cannot %s in the fact cache (%s): %s' % (what, self.name, to_text(exc)[:300])) from exc

    def _read(self, mac):
        """Read one entry into the memo (records, facts, corrupt)."""
        host = mac_host_name(mac)
        try:
            host_facts = self._cache.get(host)
        except KeyError:
            self._missing.add(mac)
            return
        except Exception as exc:  # pylint: disable=broad-exception-caught
            self.corrupt.append({'host': host, 'error': 'unreadable cache entry: %s' % to_text(exc)[:300]})
            self._missing.add(mac)
            return
        if not isinstance(host_facts, dict):
            self.corrupt.append({'host': host, 'error': 'cache entry is a %s, not a mapping of facts' % type(host_facts).__name__})
            self._missing.add(mac)
            return
        self._facts[mac] = host_facts
        if FACT_KEY not in host_facts:
            self._missing.add(mac)
            return
        try:
            self._records[mac] = validate_record(host_facts[FACT_KEY], mac)
        except InvalidRecord as exc:
            del self._facts[mac]
            self.corrupt.append({'host': host, 'error': 'invalid %s record: %s' % (FACT_KEY, exc)})
            self._missing.add(mac)

    def get(self, macs):
        """``{mac: record}`` for those of ``macs`` that have a record."""
        found = {}
        for mac in macs:
            if mac not in self._records and mac not in self._missing:
                self._read(mac)
            if mac in self._records:
                found[mac] = self._records[mac]
        return found

    def all(self):
        """Every record (coverage report, inventory plugin)."""
        if not self._all_read:
            self.get(self._laptop_macs())
            self._all_read = True
        return dict(self._records)

    def working_set(self):
        """``{mac: record}`` a cycle may act on: open holdings and pending scans or intents."""
        return {mac: record for mac, record in self.all().items()
                if record.get('lease_state') == 'active' or record.get('pending')}

    def holders(self, ips):
        """``{ip: mac}`` of records with an open holding of one of ``ips``."""
        wanted = set(ips)
        return {record['ip']: mac for mac, record in self.working_set().items()
                if record.get('lease_state') == 'active' and record.get('ip') in wanted}

    def save(self, records, macs):
        """Write ``records[mac]`` for each of ``macs`` (the host's other facts kept), each verified by reading it back."""
        blocked = {mac_from_host(item['host']) for item in self.corrupt}
        for mac in sorted(macs):
            if mac in blocked:
                raise StoreWriteError('Refusing to overwrite %s in the fact cache (%s): its entry could not be read'
                                      % (mac_host_name(mac), self.name))
            host = mac_host_name(mac)
            if mac not in self._facts and mac not in self._missing:
                self._read(mac)
            host_facts = dict(self._facts.get(mac) or {})
            host_facts[FACT_KEY] = records[mac]
            self._call('write %s' % host, self._cache.set, host, host_facts)
            self._verify(host, host_facts)
            self._facts[mac] = host_facts
            self._records[mac] = records[mac]
            self._missing.discard(mac)
        return len(macs)

    def _verify(self, host, host_facts):
        # plugins keep what they set in memory: read the stored copy with a fresh plugin object
        fresh = cache_loader.get(self.name, **{key: _option(self._cache, key) for key in ('_uri', '_timeout', '_prefix')
                                             if _option(self._cache, key) is not None})
        try:
            stored = fresh.get(host)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise StoreWriteError('Writing %s to the fact cache (%s) failed: it does not read back (%s)'
                                  % (host, self.name, to_text(exc)[:300])) from exc
        if stored != host_facts:
            raise StoreWriteError('Writing %s to the fact cache (%s) failed: it reads back different' % (host, self.name))
