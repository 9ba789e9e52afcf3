# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Laptop records written the way roamscan 0.1 (before the laptop store) wrote them: straight through
the configured cache plugin, one ``cache.set('mac-<12 hex>', {'roamscan': record, ...})`` per laptop,
no index, no verification; and ``write_behind``, the same under today's record keys: benchmarks seed with it
(fast); tests use it as "another writer" (a second controller) that changes records behind the store's back."""
from __future__ import annotations


def legacy_cache(plugin=None, **options):
    """The cache plugin as roamscan 0.1 opened it (jsonfile's missing _prefix default set to '')."""
    # pylint: disable=import-outside-toplevel
    from ansible import constants as C
    from ansible.plugins.loader import cache_loader
    cache = cache_loader.get(plugin or C.CACHE_PLUGIN, **options)
    try:
        if cache.get_option('_prefix') is None:
            cache.set_option('_prefix', '')
    except KeyError:
        pass
    return cache


def legacy_write(records, cache=None, facts=None, key_of=None):
    """Write ``{mac: record}`` as roamscan 0.1 did (``facts``: other facts of those hosts, kept), under the
    inventory host name ``mac-<12 hex>``, or under ``key_of(mac)``."""
    from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import mac_host_name  # pylint: disable=import-outside-toplevel
    cache = cache or legacy_cache()
    for mac in sorted(records):
        host_facts = dict((facts or {}).get(mac) or {})
        host_facts['roamscan'] = records[mac]
        cache.set((key_of or mac_host_name)(mac), host_facts)
    return cache


def write_behind(records, cache=None):
    """Write ``{mac: record}`` under today's record keys, straight through the cache plugin: another controller
    (or a crash between the record writes and the index write) changing records behind the store's back."""
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import store_key  # pylint: disable=import-outside-toplevel
    return legacy_write(records, cache, key_of=store_key)


# -- sample fleets for the store tests ---------------------------------------------------------------

def mac_of(number):
    return '02:77:00:%02x:%02x:%02x' % (number >> 16 & 255, number >> 8 & 255, number & 255)


def ip_of(number):
    return '10.%d.%d.%d' % (77 + (number >> 16 & 127), number >> 8 & 255, number & 255)


def sample_pending(number, ref, title='t'):
    return {'scan_ref': ref, 'ip': ip_of(number), 'launched_at': '2026-11-28T07:30:00Z', 'title': title}


def sample_record(number, state='active', pending=None):
    """A schema 1 record as roamscan 0.1 writes it, holding (``state`` active) or having held ``ip_of(number)``."""
    return {'schema': 1, 'mac': mac_of(number), 'ip': ip_of(number), 'hostname': None, 'first_seen': '2026-11-28T07:00:00Z',
            'last_seen': '2026-11-28T07:00:00Z', 'lease_state': state, 'lease_expires': '2026-11-28T08:00:00Z',
            'held_since': '2026-11-28T07:00:00Z', 'dhcp_server': 'dhcp1', 'ip_history': [], 'last_scanned': None,
            'last_scan_ref': None, 'pending': pending}


def sample_fleet(active=10, pending=5, away=35):
    """Laptops numbered from 0: ``active`` here now, then ``pending`` with a scan pending, then ``away``."""
    return {mac_of(n): sample_record(n, 'active' if n < active else 'expired',
                                     sample_pending(n, 'scan/1.%d' % n) if active <= n < active + pending else None)
            for n in range(active + pending + away)}


def as_read(records):
    """``{mac: record}`` as today's store returns these records: upgraded with their identity, source and authority
    (_record.upgrade_record), the records given left as they are."""
    # spelled out rather than asked of the code under test; also usable where the collection is not importable
    return {mac: dict(rec, identity={'kind': 'mac', 'value': rec['mac']}, authority=rec.get('authority', 'table'),
                      source=rec.get('source', {'kind': 'dhcp', 'host': rec['dhcp_server']} if rec.get('dhcp_server') else None))
            if 'identity' not in rec else rec for mac, rec in records.items()}


def working_set_of(records):
    """What the store's working_set must return for these records."""
    return as_read({mac: rec for mac, rec in records.items() if rec['lease_state'] == 'active' or rec['pending']})
