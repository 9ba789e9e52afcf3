# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Laptop records written the way roamscan 0.1 (before the laptop store) wrote them: straight through
the configured cache plugin, one ``cache.set('mac-<12 hex>', {'roamscan': record, ...})`` per laptop,
no index, no verification. Benchmarks seed with it (fast); tests use it as "another writer" (today's
release, a second controller) that changes records behind the store's back."""
from __future__ import annotations

from ansible import constants as C
from ansible.plugins.loader import cache_loader

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import mac_host_name


def legacy_cache(plugin=None, **options):
    """The cache plugin as roamscan 0.1 opened it (jsonfile's missing _prefix default set to '')."""
    cache = cache_loader.get(plugin or C.CACHE_PLUGIN, **options)
    try:
        if cache.get_option('_prefix') is None:
            cache.set_option('_prefix', '')
    except KeyError:
        pass
    return cache


def legacy_write(records, cache=None, facts=None):
    """Write ``{mac: record}`` as roamscan 0.1 did (``facts``: other facts of those hosts, kept)."""
    cache = cache or legacy_cache()
    for mac in sorted(records):
        host_facts = dict((facts or {}).get(mac) or {})
        host_facts['roamscan'] = records[mac]
        cache.set(mac_host_name(mac), host_facts)
    return cache
