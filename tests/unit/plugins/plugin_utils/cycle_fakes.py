# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Laptop records, lease_events results and scan states for the stage unit tests."""
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _record, _remember

A = '02:77:00:00:0a:01'
B = '02:77:00:00:0b:02'
C = '02:77:00:00:0c:03'
X = '10.77.0.100'
Y = '10.77.0.101'
NOW = '2026-11-28T12:00:00Z'
LAUNCHED = '2026-11-28T10:00:00Z'


def event(kind, mac, ip, time, expires=None, hostname=None, ident=None):
    return {'id': ident or '%s-%s-%s' % (kind, mac, time), 'time': time, 'server': 'kea', 'kind': kind,
            'mac': mac, 'ip': ip, 'hostname': hostname, 'lease_expires': expires}


def report(now, events=(), leases=(), name='dhcp1'):
    return {'server_name': name, 'server': 'kea', 'now': now, 'events': list(events),
            'leases': list(leases), 'cursor': 'c', 'skipped': {'count': 0}}


def lease(mac, ip, expires, state='active', hostname=None):
    return {'mac': mac, 'ip': ip, 'hostname': hostname, 'expires': expires, 'state': state}


def folded(*reports, records=None):
    records = {} if records is None else records
    _remember.fold(records, list(reports))
    return records


def finished(ref, launched, duration, scanned=(), not_scanned=(), processed=True, state='Finished'):
    return {'ref': ref, 'title': 't', 'state': state, 'sub_state': None, 'processed': processed,
            'launched': launched, 'duration': duration, 'targets': list(scanned) + [n['ip'] for n in not_scanned],
            'done': state in ('Finished', 'Canceled', 'Error'), 'scanned': list(scanned), 'not_scanned': list(not_scanned)}


def present(mac, ip, since='2026-11-28T11:00:00Z', last_scanned=None, first_seen=None, pending=None, seen='2026-11-28T11:55:00Z'):
    record = _record.new_record(mac, first_seen or since)
    record.update({'ip': ip, 'held_since': since, 'last_seen': seen, 'lease_state': 'active',
                   'lease_expires': '2026-11-28T13:00:00Z', 'last_scanned': last_scanned, 'pending': pending})
    return record


def pending_on(record, ref='scan/1.1'):
    record['pending'] = {'scan_ref': ref, 'ip': record['ip'], 'launched_at': LAUNCHED, 'title': 'roamscan T'}
    return record
