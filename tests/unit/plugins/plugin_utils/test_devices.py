# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Devices, not MACs: the linking rules, the alias-list loader (fuzzed) and the device-level decisions."""
from __future__ import annotations

import copy
import random

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _confirm, _decide, _devices, _remember
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import (
    A, B, C, LAUNCHED, NOW, X, Y, finished, lease, pending_on, present, report,
)

ALIAS_AB = [{'device': 'alice-laptop', 'identities': ['mac:' + A, 'mac:' + B, 'vpn_cert:alice-laptop']}]


def groups_of(entries):
    groups, skipped = _devices.load_aliases(entries)
    assert skipped == []
    return groups


def observed(kind, value, ip, time, event='start', source='openvpn', aliases=None, hostname=None):
    return {'id': None, 'source': {'kind': source, 'host': 'vpn1'}, 'event': event, 'why': 'connect',
            'identity': {'kind': kind, 'value': value}, 'ip': ip, 'time': time, 'until': None,
            'aliases': aliases or {}, 'hostname': hostname, 'authority': 'table'}


# -- identities and the alias list ----------------------------------------------------------------

def test_identity_keys_keep_mac_records_keys_and_name_other_kinds():
    assert _devices.parse_identity('mac:02-77-00-00-0A-01') == A
    assert _devices.parse_identity({'kind': 'vpn_cert', 'value': 'alice-laptop'}) == 'vpn_cert:alice-laptop'
    assert _devices.kind_of(A) == 'mac' and _devices.kind_of('ad_machine:LAPTOP01$') == 'ad_machine'
    for bad in ('02:77:00:00:0a:01', 'printer:x', 'vpn_cert:', 'vpn_cert:a b', 'mac:zz', 7, None, ['mac', A]):
        with pytest.raises(_devices.InvalidIdentity):
            _devices.parse_identity(bad)


def test_alias_list_links_the_listed_identities_and_skips_bad_entries_whole_with_the_reason():
    entries = ALIAS_AB + [
        'not a mapping',
        {'device': 'bob', 'identities': ['mac:' + C, 'mac:not-a-mac']},           # one bad identity: nothing of it
        {'device': 'carol', 'identities': ['mac:' + C]},                           # one identity links nothing
        {'device': 'mallory', 'identities': ['mac:' + A, 'mac:02:77:00:00:ee:ee']},  # A already belongs to alice
        {'device': '../../etc', 'identities': ['mac:' + C, 'mac:02:77:00:00:dd:dd']},
        {'identities': ['mac:' + C, 'mac:02:77:00:00:dd:dd']},
    ]
    groups, skipped = _devices.load_aliases(entries)
    assert groups == [{'device': 'alice-laptop', 'identities': [A, B, 'vpn_cert:alice-laptop'], 'source': 'roamscan_device_aliases'}]
    assert [item['entry'] for item in skipped] == ['roamscan_device_aliases[%d]' % n for n in range(1, 7)]
    assert 'already in device alice-laptop' in skipped[3]['reason']
    with pytest.raises(_devices.AliasError, match='must be a list'):
        _devices.load_aliases({'device': 'x'})


def test_alias_files_yaml_and_csv_with_clear_errors(tmp_path):
    yaml_file = tmp_path / 'aliases.yml'
    yaml_file.write_text('devices:\n  - device: alice-laptop\n    identities: ["mac:%s", "mac:%s"]\n' % (A, B))
    csv_file = tmp_path / 'aliases.csv'
    csv_file.write_text('device,identity\n# comment\nalice-laptop,mac:%s\nalice-laptop,mac:%s\nbob,mac:%s,extra\n' % (A, B, C))
    for path in (yaml_file, csv_file):
        groups, skipped = _devices.read_alias_settings({'device_aliases': [], 'device_aliases_file': str(path)})
        assert [group['identities'] for group in groups] == [[A, B]]
    assert skipped and 'bob' not in str(groups)
    for content, error in ((b'- [unclosed', 'not valid YAML'), (b'device: x\n', 'must hold a list'), (b'\xff\xfe', 'not UTF-8')):
        yaml_file.write_bytes(content)
        with pytest.raises(_devices.AliasError, match=error):
            _devices.read_alias_settings({'device_aliases_file': str(yaml_file)})
    with pytest.raises(_devices.AliasError, match='cannot be read'):
        _devices.read_alias_settings({'device_aliases_file': str(tmp_path / 'missing.yml')})
    yaml_file.write_bytes(b'#' * (_devices.MAX_ALIAS_FILE_BYTES + 1))
    with pytest.raises(_devices.AliasError, match='larger than'):
        _devices.read_alias_settings({'device_aliases_file': str(yaml_file)})


def test_the_variable_and_the_file_never_put_one_identity_in_two_devices(tmp_path):
    path = tmp_path / 'aliases.yml'
    path.write_text('- {device: other, identities: ["mac:%s", "mac:%s"]}\n' % (B, C))
    groups, skipped = _devices.read_alias_settings({'device_aliases': ALIAS_AB, 'device_aliases_file': str(path)})
    assert [group['device'] for group in groups] == ['alice-laptop'] and skipped[0]['source'] == str(path)


def test_fuzzed_alias_lists_give_groups_or_counted_skips_never_a_crash():
    rng = random.Random(7)
    pieces = ['mac:' + A, 'mac:' + B, 'vpn_cert:x', 'ad_machine:PC$', 'mac:', ':', 'vpn_cert:%zz', '\x00', 'a' * 300,
              None, 3, [], {}, {'kind': 'mac', 'value': C}, {'kind': 'mac'}, 'wg_key:' + 'k' * 200]
    for dummy in range(500):
        entries = []
        for dummy in range(rng.randint(0, 6)):
            choice = rng.random()
            if choice < 0.2:
                entries.append(rng.choice(pieces))
            else:
                entries.append({'device': rng.choice(['d1', 'd2', '', None, 'x' * 200, 'ok name']),
                                'identities': [rng.choice(pieces) for dummy in range(rng.randint(0, 4))]
                                if rng.random() < 0.9 else rng.choice(pieces)})
        groups, skipped = _devices.load_aliases(entries)
        assert len(groups) + len(skipped) == len(entries)
        keys = [key for group in groups for key in group['identities']]
        assert len(keys) == len(set(keys))


# -- links ------------------------------------------------------------------------------------------

def test_alias_linked_identities_are_one_device_and_unlinked_when_the_alias_goes():
    records = {A: present(A, X), B: present(B, Y), C: present(C, '10.77.0.102')}
    devices = _devices.Devices(records, groups_of(ALIAS_AB))
    assert devices.of(A) == devices.of(B) and devices.of(A)['linked']
    assert devices.of(A)['identities'] == [A, B, 'vpn_cert:alice-laptop'] and devices.of(A)['name'] == 'alice-laptop'
    assert [link['kind'] for link in devices.of(A)['links']] == ['alias', 'alias']
    assert devices.of(C)['identities'] == [C] and not devices.of(C)['linked']
    assert not _devices.Devices(records, []).of(A)['linked']


def test_an_authenticated_identity_at_an_ip_a_mac_held_then_links_them_with_the_evidence():
    records = {A: present(A, X, since='2026-11-28T11:00:00Z', seen='2026-11-28T11:55:00Z'), B: present(B, Y)}
    links = _devices.authenticated_links([observed('ad_machine', 'LAPTOP01$', X, '2026-11-28T11:30:00Z', source='samba')], records)
    assert list(links) == [A]
    assert links[A][0]['identity'] == 'ad_machine:LAPTOP01$' and links[A][0]['since'] == '2026-11-28T11:30:00Z'
    assert links[A][0]['evidence'] == {'source': 'samba', 'host': 'vpn1', 'ip': X, 'time': '2026-11-28T11:30:00Z',
                                       'held_since': '2026-11-28T11:00:00Z'}
    assert _devices.add_links(records, links) == {A} and _devices.add_links(records, links) == set()
    assert _devices.Devices(records).of(A)['identities'] == [A, 'ad_machine:LAPTOP01$']


@pytest.mark.parametrize('obs', [
    observed('ad_machine', 'LAPTOP01$', X, '2026-11-28T10:59:59Z'),            # before A held X
    observed('ad_machine', 'LAPTOP01$', '10.77.0.250', '2026-11-28T11:30:00Z'),  # an IP no MAC held
    observed('ad_machine', 'LAPTOP01$', X, '2026-11-28T11:30:00Z', event='end'),
    observed('vpn_user', 'alice', X, '2026-11-28T11:30:00Z'),                   # a user is not a device
    observed('ad_user', 'alice', X, '2026-11-28T11:30:00Z'),
    observed('mac', B, X, '2026-11-28T11:30:00Z'),
    observed('vpn_cert', 'bad value with spaces', X, '2026-11-28T11:30:00Z'),
    {'identity': 'garbage'}, 'not even a mapping',
])
def test_no_link_without_proof(obs):
    records = {A: present(A, X)}
    assert _devices.authenticated_links([obs], records) == {}


def test_client_supplied_names_never_link_or_credit():
    """B calls itself like A (DHCP host name) and claims A's MAC as its IV_HWADDR: nothing of A is B's."""
    a = present(A, X, last_scanned='2026-11-27T00:00:00Z')
    a['hostname'] = 'alice-laptop'
    b = present(B, Y, since='2026-11-28T09:00:00Z')
    b['hostname'] = 'alice-laptop'
    records = {A: a, B: b}
    links = _devices.authenticated_links([observed('vpn_user', 'alice', Y, '2026-11-28T11:30:00Z',
                                                   aliases={'hwaddr': A}, hostname='alice-laptop')], records)
    assert links == {}
    devices = _devices.Devices(records, [])
    assert devices.of(B)['identities'] == [B]
    assert [item['mac'] for item in _decide.candidates(records, NOW, 30, devices)] == [B]   # not skipped as "A, scanned"
    pending_on(records[B])
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[Y])], NOW, 24, devices)
    assert changed == {B} and records[A]['last_scan_ref'] is None and 'also' not in outcome['credited'][0]


# -- device decisions -------------------------------------------------------------------------------

def test_a_device_present_on_two_identities_is_one_target_on_its_newest_holding():
    records = {A: present(A, X, since='2026-11-28T10:00:00Z'), B: present(B, Y, since='2026-11-28T11:00:00Z'),
               C: present(C, '10.77.0.102')}
    devices = _devices.Devices(records, groups_of(ALIAS_AB))
    found = _decide.candidates(records, NOW, 30, devices)
    assert sorted((item['mac'], item['ip']) for item in found) == [(B, Y), (C, '10.77.0.102')]
    assert [item['identities'] for item in found if item['mac'] == B] == [[A, B, 'vpn_cert:alice-laptop']]
    plan = _decide.plan(records, NOW, 30, 500, 1, devices=devices)
    assert sorted(target['ip'] for target in plan['targets']) == [Y, '10.77.0.102']


def test_a_table_holding_is_preferred_to_a_newer_log_holding():
    records = {A: present(A, X, since='2026-11-28T10:00:00Z'), B: present(B, Y, since='2026-11-28T11:00:00Z')}
    records[B]['authority'] = 'log'
    found = _decide.candidates(records, NOW, 30, _devices.Devices(records, groups_of(ALIAS_AB)))
    assert [(item['mac'], item['ip']) for item in found] == [(A, X)]


def test_the_device_s_last_scan_is_the_newest_of_any_identity():
    away = present(A, X, last_scanned='2026-11-20T00:00:00Z')
    away['lease_state'] = 'released'
    records = {A: away, B: present(B, Y, last_scanned='2026-09-01T00:00:00Z')}
    assert _decide.candidates(records, NOW, 30, _devices.Devices(records, groups_of(ALIAS_AB))) == []
    assert [item['mac'] for item in _decide.candidates(records, NOW, 30, _devices.Devices(records, []))] == [B]
    records[A]['last_scanned'] = '2026-10-01T00:00:00Z'       # older than rescan_days: the device is overdue
    found = _decide.candidates(records, NOW, 30, _devices.Devices(records, groups_of(ALIAS_AB)))
    assert [(item['mac'], item['last_scanned'], item['overdue_since']) for item in found] == [
        (B, '2026-10-01T00:00:00Z', '2026-10-31T00:00:00Z')]


def test_a_pending_scan_of_one_identity_holds_the_device():
    records = {A: pending_on(present(A, X)), B: present(B, Y)}
    assert _decide.candidates(records, NOW, 30, _devices.Devices(records, groups_of(ALIAS_AB))) == []
    assert [item['mac'] for item in _decide.candidates(records, NOW, 30, _devices.Devices(records, []))] == [B]


def test_a_scan_proven_on_one_identity_credits_every_identity_of_the_device():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z')), B: present(B, Y, last_scanned='2026-09-01T00:00:00Z')}
    devices = _devices.Devices(records, groups_of(ALIAS_AB))
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[X])], NOW, 24, devices)
    assert changed == {A, B} and outcome['credited'][0]['also'] == [B]
    assert records[A]['last_scanned'] == records[B]['last_scanned'] == LAUNCHED
    assert records[B]['last_scan_via'] == A and records[B]['last_scan_ref'] == 'scan/1.1'
    assert 'last_scan_via' not in records[A]


def test_a_scan_that_proves_nothing_credits_no_identity_of_the_device():
    records = {A: pending_on(present(A, X, since='2026-11-28T11:00:00Z')), B: present(B, Y)}   # A took X after the launch
    devices = _devices.Devices(records, groups_of(ALIAS_AB))
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[X])], NOW, 24, devices)
    assert outcome['credited'] == [] and records[B]['last_scanned'] is None and records[A]['last_scanned'] is None


# -- remember from presence_events ---------------------------------------------------------------

def presence_report(now, observations=(), table=(), name='dhcp1'):
    return {'server_name': name, 'now': now, 'observations': list(observations), 'table': list(table), 'cursor': 'c'}


def test_presence_events_results_fold_like_lease_events_results():
    start = dict(observed('mac', A, X, '2026-11-28T11:00:00Z', source='kea'), why='lease', until='2026-11-28T13:00:00Z',
                 hostname='alice')
    row = dict(observed('mac', B, Y, NOW, event='seen', source='kea'), why='active', until='2026-11-28T13:00:00Z')
    cert = observed('vpn_cert', 'alice-laptop', '10.88.0.2', '2026-11-28T11:10:00Z')
    via_presence, via_lease = {}, {}
    _remember.fold(via_presence, [presence_report(NOW, [start, cert], [row])])
    legacy = report(NOW, [{'id': 'e', 'kind': 'lease', 'time': '2026-11-28T11:00:00Z', 'mac': A, 'ip': X, 'hostname': 'alice',
                           'lease_expires': '2026-11-28T13:00:00Z'}], [lease(B, Y, '2026-11-28T13:00:00Z')])
    _remember.fold(via_lease, [legacy])
    # the certificate has a record of its own now; the MAC records are those lease_events gave
    assert {key: via_presence[key] for key in (A, B)} == via_lease and set(via_presence) == {A, B, 'vpn_cert:alice-laptop'}
    assert via_presence['vpn_cert:alice-laptop']['ip'] == '10.88.0.2' and via_presence['vpn_cert:alice-laptop']['mac'] is None
    assert _remember.identity_observations([presence_report(NOW, [start, cert], [row])]) == [cert]
    end = dict(observed('mac', A, X, '2026-11-28T11:40:00Z', event='end', source='kea'), why='release')
    _remember.fold(via_presence, [presence_report(NOW, [end])])
    assert via_presence[A]['lease_state'] == 'released' and via_presence[A]['ip_history'][-1]['to'] == '2026-11-28T11:40:00Z'
    untouched = copy.deepcopy(via_presence)
    changed, skipped = _remember.fold(via_presence, [presence_report(NOW, [dict(start, identity={'kind': 'mac', 'value': 'zz'})])])
    assert changed == set() and len(skipped) == 1 and via_presence == untouched
