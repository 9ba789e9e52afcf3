# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A realistic fleet and cycle history for the coverage report's tests and bench: device records of every kind
(covered, due soon, overdue for each reason, pending, never scanned), hostile host names among them, and months of
daily history entries as cycle_summary folds them.
"""
from __future__ import annotations

import datetime
import random

HOSTILE_NAMES = ('<script>alert(1)</script>', '"><img src=x onerror=alert(2)>', "'><svg onload=alert(3)>",
                 '=HYPERLINK("http://x")', '</td></tr></table><h1>x</h1>')
SERVERS = ('dhcp-hq', 'dhcp-branch', 'dhcp-lab')
# the device names of the alias list the tests pass (ALIASES): two MACs of one laptop, both long overdue
TWO_NIC = 'two-nic laptop'


def aliases(records):
    """The alias list joining the fleet's two-NIC laptop (records 5 and 6 of ``fleet()``)."""
    macs = list(records)[5:7]
    return [{'device': TWO_NIC, 'identities': ['mac:' + mac for mac in macs]}]


def _time(moment):
    return moment.strftime('%Y-%m-%dT%H:%M:%SZ')


def fleet(count, now, seed=7, hostile=True):
    """``{mac: record}`` of ``count`` devices at ``now`` (a timezone-aware datetime)."""
    rng = random.Random(seed)
    records = {}
    for number in range(count):
        mac = '02:%02x:%02x:%02x:%02x:%02x' % tuple((number >> shift) & 0xff for shift in (32, 24, 16, 8, 0))
        ip = '10.%d.%d.%d' % (number >> 16 & 0xff, number >> 8 & 0xff, number & 0xff or 1)
        kind = rng.random()
        first_seen = now - datetime.timedelta(days=rng.uniform(40, 400))
        last_seen = now - datetime.timedelta(hours=rng.uniform(0, 24 * (90 if kind < 0.15 else 20)))
        scanned_days = rng.uniform(0, 29) if kind > 0.3 else (rng.uniform(31, 200) if kind > 0.05 else None)
        active = rng.random() < 0.3
        held_since = last_seen - datetime.timedelta(hours=rng.uniform(0.1 if kind < 0.1 else 1, 10))
        record = {
            'schema': 1, 'mac': mac, 'ip': ip, 'hostname': 'lt-%05d' % number, 'first_seen': _time(first_seen),
            'last_seen': _time(last_seen), 'lease_state': 'active' if active else 'released',
            'lease_expires': _time(now + datetime.timedelta(hours=4)) if active else _time(last_seen),
            'held_since': _time(held_since) if active else None, 'dhcp_server': SERVERS[number % len(SERVERS)],
            'ip_history': [] if active else [{'ip': ip, 'from': _time(held_since), 'to': _time(last_seen)}],
            'last_scanned': _time(now - datetime.timedelta(days=scanned_days)) if scanned_days is not None else None,
            'last_scan_ref': 'scan/1.%d' % number if scanned_days is not None else None, 'pending': None,
        }
        if active and kind < 0.3 and rng.random() < 0.2:
            record['pending'] = {'scan_ref': 'scan/2.%d' % number, 'ip': ip, 'launched_at': _time(now - datetime.timedelta(minutes=20)),
                                 'title': 'roamscan %s' % _time(now)}
        records[mac] = record
    if hostile:
        # never scanned since long ago: at the top of the overdue table; each linked to an identity named like an attack
        for number, name in enumerate(HOSTILE_NAMES):
            records[list(records)[number]].update(
                hostname=name, first_seen=_time(now - datetime.timedelta(days=410 + number)), last_scanned=None,
                last_scan_ref=None, pending=None,
                links=[{'identity': 'vpn_cert:' + name, 'kind': 'authenticated', 'since': _time(now), 'evidence': {}}])
        for number in (5, 6):   # the two-NIC laptop of aliases()
            records[list(records)[number]].update(first_seen=_time(now - datetime.timedelta(days=420)), last_scanned=None,
                                                  last_scan_ref=None, pending=None)
    return records


def history(days, now, devices, seed=11):
    """``days`` daily entries ending today, shaped as _history.fold_cycle writes them."""
    rng = random.Random(seed)
    entries = []
    share = 0.6
    for back in range(days - 1, -1, -1):
        share = min(0.8, max(0.4, share + rng.uniform(-0.02, 0.025)))
        overdue = int(devices * (1 - share))
        targets = rng.randint(0, 400)
        entries.append({
            'day': (now - datetime.timedelta(days=back)).strftime('%Y-%m-%d'), 'cycles': 96,
            'last_at': _time(now - datetime.timedelta(days=back)), 'known': devices, 'present': devices // 10,
            'overdue': overdue, 'pending': rng.randint(0, 50), 'covered_share': round(share, 4),
            'launched_scans': rng.randint(0, 12), 'launched_targets': targets, 'credited': int(targets * 0.8),
            'not_credited': int(targets * 0.1), 'faults': int(rng.random() < 0.05),
            'dropped': {'IP <ip> no longer leased to this MAC': rng.randint(0, 20), 'host not alive': rng.randint(0, 30)},
            'api_calls': {'scan_status': 96 * 2, 'host_list': rng.randint(90, 200), 'scan_launch': rng.randint(0, 30)},
        })
    return entries


def seed(cache_dir, devices, days, now):
    """Write the fleet and its history into a jsonfile fact cache, through ansible-core's cache plugin."""
    from ansible.plugins.loader import cache_loader, init_plugin_loader  # pylint: disable=import-outside-toplevel
    init_plugin_loader()
    cache = cache_loader.get('ansible.builtin.jsonfile', _uri=str(cache_dir), _prefix='', _timeout=0)
    for mac, record in fleet(devices, now).items():
        cache.set('mac-' + mac.replace(':', ''), {'roamscan': record})
    cache.set('roamscan-history', {'schema': 1, 'days': history(days, now, devices)})


if __name__ == '__main__':
    import sys
    seed(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), datetime.datetime.now(datetime.timezone.utc))
