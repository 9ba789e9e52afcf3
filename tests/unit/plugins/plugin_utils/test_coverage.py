# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report's numbers over device rows, its page (escaped, self-contained) and its exports."""
from __future__ import annotations

import csv
import io
import json
import re

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _coverage, _devices, _record, _report_export, _summary
from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import fold_cycle
from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_export import export_paths, exports
from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_page import render
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import read_settings
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, C, X, Y, NOW, present

D = '02:77:00:00:0d:04'


def fleet():
    recent_scanned = present(A, X, last_scanned='2026-11-20T00:00:00Z')
    recent_unscanned = present(B, Y)
    long_gone = present(C, '10.77.0.102', seen='2026-09-01T00:00:00Z', first_seen='2026-08-01T00:00:00Z')
    long_gone['lease_state'] = 'expired'
    pending = present(D, '10.77.0.103')
    pending['pending'] = {'scan_ref': 'scan/1', 'ip': '10.77.0.103', 'launched_at': NOW, 'title': 't'}
    records = {A: recent_scanned, B: recent_unscanned, C: long_gone, D: pending}
    for record in records.values():
        record['dhcp_server'] = 'dhcp1'
    return records


def build(records, **settings):
    variables = {'roamscan_%s' % name: value for name, value in settings.items()}
    history = fold_cycle([], {'known': 4, 'present': 3, 'overdue': 3, 'pending': 1, 'launched': ['scan/1'],
                              'launched_targets': ['10.77.0.103']}, {'scan_launch': 2}, NOW, 400)
    return _coverage.report(records, history, NOW, read_settings(variables), {'dhcp1': 'HQ'})


def test_coverage_counts_recently_seen_and_lists_overdue_with_the_reason():
    model = build(fleet())
    coverage = model['coverage']
    assert (coverage['seen'], coverage['scanned'], coverage['share']) == (3, 1, 0.3333)
    overdue = {row['mac']: row for row in model['overdue']}
    assert sorted(overdue) == [B, C, D]
    assert (overdue[B]['overdue_reason'], overdue[C]['overdue_reason'], overdue[D]['overdue_reason']) == ('not_found', 'not_seen', 'pending')
    assert overdue[B]['present'] and not overdue[C]['present']
    assert [row['mac'] for row in model['overdue']][0] == C   # longest overdue first
    assert model['overdue_reasons'] == {'pending': 1, 'not_seen': 1, 'too_short': 0, 'not_found': 1}
    assert build({})['coverage']['share'] is None


def test_due_soon_and_the_age_buckets():
    model = build(fleet(), report_due_soon_days=30)
    assert [(row['mac'], row['due_in_days']) for row in model['due_soon']] == [(A, 21.5)]
    assert build(fleet())['due_soon'] == []
    ages = {item['bucket']: item['devices'] for item in model['ages']}
    assert ages['7–14'] == 1 and ages['never'] == 3 and sum(ages.values()) == 4


def test_filters_select_the_devices():
    records = fleet()
    records[C]['dhcp_server'] = 'dhcp2'
    assert build(records, report_site='HQ')['counts']['known'] == 3
    assert build(records, report_site='Branch')['counts']['known'] == 0
    assert build(records, report_source='vpn')['counts']['known'] == 0
    assert _coverage.report(records, [], NOW, read_settings({'roamscan_report_group': 'g'}), {}, {'dhcp2'})['counts']['known'] == 1


def test_page_escapes_hostile_host_names_and_requests_nothing():
    records = fleet()
    records[B]['hostname'] = '<script>alert(1)</script>'
    records[C]['hostname'] = '"><img src=x onerror=alert(2)>'
    page = render(build(records), _coverage.REASONS)
    assert '<script' not in page and '<img' not in page
    assert '&lt;script&gt;alert(1)&lt;/script&gt;' in page and '&quot;&gt;&lt;img src=x onerror=alert(2)&gt;' in page
    assert "default-src 'none'" in page and not re.search(r'(src|href)="(https?:)?//', page)
    assert 'data-points="1"' in page and '@media print' in page


def test_exports_hold_the_page_numbers_and_defuse_formulas():
    records = fleet()
    records[A]['hostname'] = '=HYPERLINK("http://x")'
    model = build(records)
    files = exports(model)
    devices = json.loads(files['devices.json'])
    assert devices['summary']['counts'] == model['counts'] and len(devices['devices']) == 4
    rows = list(csv.DictReader(io.StringIO(files['devices.csv'])))
    assert [row['mac'] for row in rows] == sorted(records)
    assert rows[0]['hostname'] == '\'=HYPERLINK("http://x")' and rows[0]['overdue'] == 'false'
    history = list(csv.DictReader(io.StringIO(files['history.csv'])))
    assert history[0]['launched_targets'] == '1' and json.loads(history[0]['api_calls']) == {'scan_launch': 2}
    assert export_paths('/r/coverage.html')['devices.csv'] == '/r/coverage-devices.csv'


def vpn_record(value, ip, since, seen, **fields):
    """A non-MAC identity record as the cycle keeps it (its identity, source and authority say what it is)."""
    record = present('vpn_cert:' + value, ip, since=since, seen=seen)
    record.update(source={'kind': 'openvpn', 'host': 'vpn1'}, authority='table', **fields)
    return record


def test_a_device_of_several_identities_is_one_row_with_each_identity_its_sources_and_its_last_credited_scan():
    records = fleet()
    # A's Wi-Fi MAC and its dock MAC are one device by the alias list; A's VPN certificate by an authenticated link
    records[C]['links'] = [{'identity': 'vpn_cert:carol', 'kind': 'authenticated', 'since': NOW, 'evidence': {}}]
    records['vpn_cert:carol'] = vpn_record('carol', '10.8.0.6', '2026-11-28T11:30:00Z', '2026-11-28T11:58:00Z',
                                           last_scanned='2026-11-27T00:00:00Z')
    records['vpn_cert:erin'] = vpn_record('erin', '10.8.0.7', '2026-11-28T11:00:00Z', '2026-11-28T11:50:00Z')
    groups = [{'device': 'alice laptop', 'identities': [A, B], 'source': 'roamscan_device_aliases'}]
    model = _coverage.report(records, [], NOW, read_settings({}), {'dhcp1': 'HQ'}, None, groups)
    rows = {row['name']: row for row in model['devices']}
    assert sorted(rows) == sorted(['alice laptop', C, D, 'vpn_cert:erin'])
    alice = rows['alice laptop']
    assert alice['identities'] == ['mac:%s' % A, 'mac:%s' % B] and alice['sources'] == [{'kind': 'dhcp', 'host': 'dhcp1'}]
    # A's scan covers the device; both MACs held addresses at the same hours: counted once
    assert (alice['last_scanned'], alice['last_scan_identity'], alice['overdue']) == ('2026-11-20T00:00:00Z', A, False)
    assert alice['presence_hours'] == 1.0
    carol = rows[C]
    assert carol['identities'] == ['mac:%s' % C, 'vpn_cert:carol']
    assert carol['sources'] == [{'kind': 'dhcp', 'host': 'dhcp1'}, {'kind': 'openvpn', 'host': 'vpn1'}]
    assert (carol['last_scanned'], carol['last_scan_identity'], carol['overdue'], carol['present']) == (
        '2026-11-27T00:00:00Z', 'vpn_cert:carol', False, True)
    assert (carol['ip'], carol['source']) == ('10.8.0.6', 'openvpn')   # present on both: the newer holding
    erin = rows['vpn_cert:erin']
    assert (erin['mac'], erin['source'], erin['overdue'], erin['overdue_reason']) == (None, 'openvpn', True, 'not_found')
    assert model['counts'] == {'known': 4, 'present': 4, 'overdue': 2, 'pending': 1}
    assert {item['name']: item['devices'] for item in model['breakdown']['source']} == {'dhcp': 3, 'openvpn': 2}
    settings = read_settings({'roamscan_report_source': 'openvpn'})
    assert sorted(row['name'] for row in _coverage.report(records, [], NOW, settings, {}, None, groups)['devices']) == [C, 'vpn_cert:erin']
    # the headline's figure is what each cycle's summary folds into the history for the same records
    day = fold_cycle([], _summary.counts(records, NOW, 30, groups), {}, NOW, 400)[0]
    assert day['covered_share'] == model['covered_share'] == 0.5
    page = render(model, _coverage.REASONS)
    assert 'vpn_cert:erin' in page and 'openvpn vpn1' in page and '<strong>50.0%</strong> of the 4 known devices' in page
    devices_csv = list(csv.DictReader(io.StringIO(exports(model)['devices.csv'])))
    assert json.loads(next(row for row in devices_csv if row['name'] == 'alice laptop')['identities']) == alice['identities']


def lone_records():
    """Records of every shape a device of one identity comes in: DHCP and VPN holdings, open, closed, expired, never
    scanned or seen, pending, a release 0.x record naming only its DHCP server, a log-only source, empty fields."""
    records = fleet()
    records[A]['ip_history'] = [{'ip': '10.77.0.90', 'from': '2026-11-01T00:00:00Z', 'to': '2026-11-01T03:00:00Z'}]
    records['vpn_cert:carol'] = vpn_record('carol', '10.8.0.6', '2026-11-28T11:30:00Z', '2026-11-28T11:58:00Z',
                                           last_scanned='2026-11-27T00:00:00Z', hostname='carol-lt')
    wireguard = present('wg_key:abc=', '10.9.0.2', since='2026-11-20T10:00:00Z', seen='2026-11-20T10:20:00Z')
    wireguard.update(lease_state='expired', source={'kind': 'wireguard', 'host': 'wg1'}, authority='log', hostname='', first_seen='')
    records['wg_key:abc='] = wireguard
    legacy = present('02:77:00:00:0e:05', '10.77.0.104', last_scanned='2026-10-01T00:00:00Z')
    legacy.update(source=None, dhcp_server='dhcp2', lease_expires=None, pending=None)
    records['02:77:00:00:0e:05'] = legacy
    unseen = _record.new_record('02:77:00:00:0f:06', '2026-11-28T11:00:00Z')
    records['02:77:00:00:0f:06'] = unseen
    return records


def test_a_device_of_one_identity_gets_the_row_its_device_view_gives():
    records = lone_records()
    since = '2026-10-29T12:00:00Z'
    sites = {'dhcp1': 'HQ', 'dhcp2': 'Branch'}
    for key, record in records.items():
        device = _devices.Devices({key: record}).of(key)
        view = _devices.device_view(device, {key: record}, NOW, 30)
        assert _coverage.lone_row(device, record, NOW, since, sites) == _coverage.view_row(view, {key: record}, NOW, since, sites), key
    # the report takes that path for each of them, and the same rows for the linked devices
    rows = {row['name']: row for row in _coverage.device_rows(records, NOW, since, sites)}
    assert sorted(rows) == sorted(records)
    assert rows['wg_key:abc=']['source'] == 'wireguard' and rows['02:77:00:00:0e:05']['site'] == 'Branch'


def test_rows_hold_the_export_fields_in_their_order_and_the_json_export_writes_them_as_they_are():
    records = lone_records()
    records[C]['links'] = [{'identity': 'vpn_cert:carol', 'kind': 'authenticated', 'since': NOW, 'evidence': {}}]
    groups = [{'device': 'alice laptop', 'identities': [A, B], 'source': 'roamscan_device_aliases'}]
    model = _coverage.report(records, [], NOW, read_settings({}), {'dhcp1': 'HQ'}, None, groups)
    assert {len(row['identities']) for row in model['devices']} == {1, 2}   # devices of one identity and linked ones
    assert all(list(row) == list(_coverage.ROW_FIELDS) for row in model['devices'])
    exported = json.loads(exports(model)['devices.json'])['devices']
    assert exported == model['devices'] and [list(row) for row in exported] == [list(_coverage.ROW_FIELDS)] * len(exported)


def test_csv_cells_of_every_type_are_what_the_spreadsheet_safe_cell_gives():
    values = ['lt-1', '', None, True, False, 0, 12, -3, 1.5, -0.5, '=1+1', '-5', '@SUM(A1)', '+x', '\tx', 'a,"b"', ['mac:x'],
              [{'kind': 'dhcp', 'host': None}], {'b': 1, 'a': [2]}]
    fields = ['f%d' % number for number in range(len(values))]
    rows = list(csv.reader(io.StringIO(_report_export._csv([dict(zip(fields, values))], fields))))
    assert rows == [fields, [_report_export._cell(value) for value in values]]
    assert rows[1][:11] == ['lt-1', '', '', 'true', 'false', '0', '12', '-3', '1.5', '-0.5', "'=1+1"]
    assert rows[1][11:] == ['-5', "'@SUM(A1)", "'+x", "'\tx", 'a,"b"', '["mac:x"]', '[{"host": null, "kind": "dhcp"}]', '{"a": [2], "b": 1}']
