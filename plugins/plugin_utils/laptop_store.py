# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Laptop records in Ansible's configured fact cache (controller side).

Only Ansible's cache plugin API is used: ansible-core 2.19 changed the on-disk layout of the file
caches (``s1_<host>`` files with a ``__payload__``), and the loader's plugin object hides that.
One inventory host per laptop (``mac-027700000a01``), the record under the fact key ``roamscan``;
other facts stored for that host are kept as they are.
"""

from __future__ import annotations

import os

from ansible import constants as C
from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.loader import cache_loader

from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import InvalidRecord, validate_record
from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import MAC_HOST_PATTERN, mac_from_host, mac_host_name

FACT_KEY = 'roamscan'
MEMORY_PLUGINS = frozenset(('memory', 'ansible.builtin.memory', 'ansible.legacy.memory'))
HOW_TO_FIX = ('roamscan keeps scan history in the fact cache. Configure a durable one that never expires, e.g. in '
              'ansible.cfg [defaults]: fact_caching = ansible.builtin.jsonfile, fact_caching_connection = <directory>, '
              'fact_caching_timeout = 0 (or ANSIBLE_CACHE_PLUGIN, ANSIBLE_CACHE_PLUGIN_CONNECTION, '
              'ANSIBLE_CACHE_PLUGIN_TIMEOUT=0); for several controllers use community.general.redis with timeout 0. '
              'The roamscan_fact_cache variable ({plugin, connection, timeout: 0}) overrides this for roamscan alone.')


class UnsafeFactCache(AnsibleError):
    """The configured fact cache would forget scan history."""


def cache_name(settings=None):
    return (settings or {}).get('plugin') or C.CACHE_PLUGIN


def open_fact_cache(require_durable=True, settings=None):
    """The fact cache plugin: Ansible's configured one, or the one ``settings`` name.

    ``settings`` (``{plugin, connection, timeout, prefix}``) replaces Ansible's fact cache configuration for the
    laptop records; ansible-runner and AWX point Ansible's own at a per-job directory. With ``require_durable``,
    memory caches, caches that expire entries and that per-job directory are refused.
    """
    settings = settings or {}
    name = cache_name(settings)
    if require_durable and name in MEMORY_PLUGINS:
        raise UnsafeFactCache('The fact cache is %r: it lives only as long as one ansible-playbook run, so every '
                              'laptop would look never scanned on the next run. %s' % (name, HOW_TO_FIX))
    options = {key: settings[field] for field, key in (('connection', '_uri'), ('timeout', '_timeout'), ('prefix', '_prefix'))
               if settings.get(field) is not None}
    cache = cache_loader.get(name, **options)
    if cache is None:
        raise AnsibleError('Cache plugin %r (fact_caching) could not be loaded.' % name)
    _default_empty_prefix(cache)
    if require_durable:
        _refuse_forgetful(cache, name)
    return cache


def _refuse_forgetful(cache, name):
    job_dir = os.environ.get('AWX_ISOLATED_DATA_DIR')
    try:
        location = cache.get_option('_uri')
    except KeyError:
        location = None
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


def laptop_hosts(cache):
    """Host names in the cache that are laptops (other hosts' facts share the cache)."""
    hosts = []
    for key in _cache_keys(cache):
        host = to_text(key)
        if MAC_HOST_PATTERN.match(host):
            hosts.append(host)
    return sorted(hosts)


def load_records(cache):
    """Read every laptop record.

    Returns ``(records, facts, corrupt)``: ``records`` ``{mac: record}``, ``facts`` ``{mac: all facts of
    that host}`` (to write back unchanged around the record) and ``corrupt`` ``[{host, error}]`` for
    entries that could not be read or do not follow the record schema. Corrupt entries are left
    alone: they are reported, not overwritten.
    """
    records, facts, corrupt = {}, {}, []
    for host in laptop_hosts(cache):
        mac = mac_from_host(host)
        try:
            host_facts = cache.get(host)
        except KeyError:
            continue  # removed since keys() was read
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # cache plugins raise what their backend raises (AnsibleError, ValueError, redis errors)
            corrupt.append({'host': host, 'error': 'unreadable cache entry: %s' % to_text(exc)[:300]})
            continue
        if not isinstance(host_facts, dict):
            corrupt.append({'host': host, 'error': 'cache entry is a %s, not a mapping of facts' % type(host_facts).__name__})
            continue
        if FACT_KEY not in host_facts:
            facts[mac] = host_facts
            continue
        try:
            records[mac] = validate_record(host_facts[FACT_KEY], mac)
        except InvalidRecord as exc:
            corrupt.append({'host': host, 'error': 'invalid %s record: %s' % (FACT_KEY, exc)})
            continue
        facts[mac] = host_facts
    return records, facts, corrupt


def save_records(cache, records, facts, macs):
    """Write the records of ``macs`` back, keeping the host's other facts."""
    for mac in sorted(macs):
        host_facts = dict(facts.get(mac) or {})
        host_facts[FACT_KEY] = records[mac]
        cache.set(mac_host_name(mac), host_facts)
    return len(macs)
