# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.action.laptop_state import ARGUMENT_SPEC, _Cycle

A = '02:77:00:00:0a:01'
B = '02:77:00:00:0b:02'
NOW = '2026-11-28T12:00:00Z'


def args(**given):
    values = {name: spec.get('default') for name, spec in ARGUMENT_SPEC.items()}
    values.update(given)
    return values


def lease_report(*rows):
    return {'now': NOW, 'events': [],
            'leases': [{'mac': mac, 'ip': ip, 'hostname': None, 'expires': '2026-11-28T13:00:00Z', 'state': 'active'} for mac, ip in rows]}


def test_corrupt_laptop_is_never_overwritten_the_rest_proceeds():
    records = {}
    corrupt = [{'host': 'mac-027700000a01', 'error': 'invalid roamscan record: unknown record schema 99'}]
    cycle = _Cycle(records, corrupt, args(observe={'dhcp1': lease_report((A, '10.77.0.100'), (B, '10.77.0.101'))}, plan=True), NOW)
    cycle.run()
    assert cycle.changed == {B} and A not in records
    report = cycle.report()
    assert report['corrupt'] == corrupt
    assert [t['mac'] for t in report['plan']['targets']] == [B]


def test_full_cycle_through_the_steps():
    records = {}
    cycle = _Cycle(records, [], args(observe={'dhcp1': lease_report((A, '10.77.0.100'))}, plan=True), NOW)
    cycle.run()
    assert records[A]['dhcp_server'] == 'dhcp1'
    plan = cycle.report()['plan']
    assert plan['title'] == 'roamscan %s' % NOW
    cycle = _Cycle(records, [], args(intend={'title': plan['title'], 'targets': plan['targets'],
                                             'leases': {'dhcp1': lease_report((A, '10.77.0.100'))}}), NOW)
    cycle.run()
    assert cycle.report()['launch']['targets'] == [{'mac': A, 'ip': '10.77.0.100'}]
    cycle = _Cycle(records, [], args(launched={'title': plan['title'], 'scans': [{'ref': 'scan/1.2', 'targets': ['10.77.0.100']}]},
                                     plan=True), NOW)
    cycle.run()
    report = cycle.report()
    assert report['pending_scan_refs'] == ['scan/1.2'] and report['candidates'] == []
    assert report['plan']['targets'] == [] and 'scan/1.2' in report['plan']['held']


def test_corrupt_spool_lines_are_reported_per_server_and_the_events_still_fold():
    records = {}
    clean = dict(lease_report((A, '10.77.0.100')), skipped_lines={'count': 0, 'reasons': {}})
    torn = dict(lease_report((B, '10.77.0.101')), skipped_lines={'count': 2, 'reasons': {'truncated': 1, 'bad_mac': 1}})
    cycle = _Cycle(records, [], args(observe={'dhcp1': clean, 'dhcp2': torn}), NOW)
    cycle.run()
    assert cycle.report()['corrupt_spool_lines'] == {'dhcp2': {'count': 2, 'reasons': {'truncated': 1, 'bad_mac': 1}}}
    assert set(records) == {A, B}
