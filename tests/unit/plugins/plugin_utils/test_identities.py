# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Records for every identity kind: schema, store keys, folding VPN / WireGuard / DC presence, the IP-reuse
rule across kinds, and the stages deciding, verifying and crediting on any identity's holding."""
from __future__ import annotations

import copy
import hashlib
import os

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _confirm, _decide, _devices, _launch, _record, _remember, _store
from ansible_collections.roamscan.qualys.tests.support.legacy_records import legacy_cache, sample_record, write_behind
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import (
    A, B, LAUNCHED, NOW, X, finished, lease, pending_on, present, report,
)

CERT = 'vpn_cert:alice-laptop'
USER = 'vpn_user:bob'
WG = 'wg_key:3xYzPeerKey='
AD = 'ad_machine:LAPTOP01$'
T = '10.88.0.2'   # a tunnel address


def observed(kind, value, ip, time, event='start', source='openvpn', until=None, authority='table'):
    return {'id': None, 'source': {'kind': source, 'host': 'vpn1'}, 'event': event, 'why': 'connect',
            'identity': {'kind': kind, 'value': value}, 'ip': ip, 'time': time, 'until': until,
            'aliases': {'hwaddr': B}, 'hostname': 'bob-laptop', 'authority': authority}


def vpn_report(now, observations=(), table=(), name='vpn1'):
    return {'server_name': name, 'now': now, 'observations': list(observations), 'table': list(table), 'cursor': 'c'}


def fold(records, *reports):
    changed, skipped = _remember.fold(records, list(reports))
    assert skipped == []
    return changed


# -- the record -------------------------------------------------------------------------------------

def test_a_record_of_every_kind_says_its_identity_and_validates_under_its_key():
    for key, kind in ((A, 'mac'), (CERT, 'vpn_cert'), (USER, 'vpn_user'), (WG, 'wg_key'), (AD, 'ad_machine'),
                      ('ad_user:alice', 'ad_user'), ('imported:nac-77', 'imported')):
        record = _record.new_record(key, NOW)
        assert record['identity']['kind'] == kind and _record.record_key(record) == key
        assert (record['mac'] == A) if kind == 'mac' else record['mac'] is None
        assert _record.validate_record(record, key) is record


@pytest.mark.parametrize('mutate', [
    lambda r: r.update(identity={'kind': 'vpn_cert', 'value': 'mallory'}),   # another identity under this key
    lambda r: r.update(mac=A),                                              # a MAC on a certificate's record
    lambda r: r.update(identity={'kind': 'printer', 'value': 'x'}),
    lambda r: r.update(identity={'kind': 'vpn_cert', 'value': 'a b;rm -rf /'}),
    lambda r: r.update(identity='vpn_cert:alice-laptop'),
    lambda r: r.update(authority='rumour'),
    lambda r: r.update(source='openvpn'),
    lambda r: r.update(pending={'scan_ref': 's', 'ip': T, 'launched_at': NOW, 'title': 't', 'done_at': 'soon'}),
])
def test_a_broken_identity_record_is_refused(mutate):
    record = _record.new_record(CERT, NOW)
    mutate(record)
    with pytest.raises(_record.InvalidRecord):
        _record.validate_record(record, CERT)


def test_records_written_by_todays_release_are_upgraded_when_read():
    old = sample_record(1)
    assert 'identity' not in old and 'source' not in old
    upgraded = _record.validate_record(copy.deepcopy(old), old['mac'])
    assert upgraded['identity'] == {'kind': 'mac', 'value': old['mac']}
    assert upgraded['source'] == {'kind': 'dhcp', 'host': 'dhcp1'} and upgraded['authority'] == 'table'
    assert {key: value for key, value in upgraded.items() if key not in ('identity', 'source', 'authority')} == old


# -- the store -----------------------------------------------------------------------------------------

def index_file(directory):
    return directory / next(name for name in os.listdir(directory) if name.endswith('roamscan-store-index'))


def held(key, ip, since='2026-11-28T11:00:00Z'):
    record = _record.new_record(key, since)
    record.update(ip=ip, held_since=since, last_seen=since, lease_state='active', source={'kind': 'openvpn', 'host': 'vpn1'})
    return record


def test_store_keys_of_other_kinds_are_a_digest_of_the_value():
    assert _store.store_key(A) == 'roamscan-id-mac-027700000a01'
    assert _store.store_key(CERT) == 'roamscan-id-vpn_cert-' + hashlib.sha256(b'alice-laptop').hexdigest()[:32]
    assert _store.store_key('vpn_user:alice-laptop') != _store.store_key(CERT)   # the kind is part of the key
    for key in (CERT, USER, WG, AD):
        assert _store.RECORD_PATTERN.match(_store.store_key(key))


def test_records_of_every_kind_round_trip_through_a_fresh_store_with_and_without_its_index(jsonfile):
    records = {A: present(A, X), CERT: held(CERT, T), WG: held(WG, '10.90.0.2'), USER: _record.new_record(USER, NOW)}
    store = _store.open_store()
    store.get(list(records))
    assert store.save(records, list(records)) == 4
    fresh = _store.open_store()
    assert fresh.working_set() == {key: records[key] for key in (A, CERT, WG)}   # from the index's copies
    assert fresh.get([USER, CERT]) == {USER: records[USER], CERT: records[CERT]}
    assert fresh.holder_keys([T, X]) == {A, CERT}
    os.remove(index_file(jsonfile))
    rebuilt = _store.open_store()
    assert rebuilt.all() == records and rebuilt.corrupt == []     # every key read, identities from the records
    assert sorted(rebuilt.digests()) == sorted(records)


def test_a_record_under_another_identity_s_key_is_corrupt_and_never_overwritten(jsonfile):
    store = _store.open_store()
    store.get([CERT])
    store.save({CERT: held(CERT, T)}, [CERT])
    forged = held('vpn_cert:mallory', T)
    legacy_cache().set(_store.store_key(CERT), {'roamscan': forged})      # written behind the store's back
    os.remove(index_file(jsonfile))
    again = _store.open_store()
    assert again.all() == {} and 'not stored under' in again.corrupt[0]['error']
    # asked by its identity, the entry is known unreadable: a stage never writes over it
    asked = _store.open_store()
    assert asked.get([CERT]) == {} and asked.unreadable() == {CERT}
    with pytest.raises(_store.StoreWriteError, match='could not be read'):
        asked.save({CERT: held(CERT, T)}, [CERT])


def test_non_mac_records_written_behind_the_index_are_found(jsonfile):
    _store.open_store().working_set()                 # an index exists
    write_behind({CERT: held(CERT, T)})
    assert _store.open_store().working_set() == {CERT: held(CERT, T)}


# -- remember: every kind folds into its own record --------------------------------------------------

def test_a_vpn_session_is_a_holding_of_its_identity_from_connect_to_disconnect():
    records = {}
    fold(records, vpn_report('2026-11-28T11:01:00Z', [observed('vpn_cert', 'alice-laptop', T, '2026-11-28T11:00:00Z')]))
    record = records[CERT]
    assert record['identity'] == {'kind': 'vpn_cert', 'value': 'alice-laptop'} and record['mac'] is None
    assert record['ip'] == T and record['held_since'] == '2026-11-28T11:00:00Z' and _record.is_present(record, NOW)
    assert record['source'] == {'kind': 'openvpn', 'host': 'vpn1'} and record['authority'] == 'table'
    assert record['hostname'] is None and record['dhcp_server'] is None      # client-supplied names are not kept
    fold(records, vpn_report(NOW, table=[observed('vpn_cert', 'alice-laptop', T, '2026-11-28T11:30:00Z', event='seen')]))
    assert record['last_seen'] == '2026-11-28T11:30:00Z' and record['held_since'] == '2026-11-28T11:00:00Z'
    fold(records, vpn_report(NOW, [observed('vpn_cert', 'alice-laptop', T, '2026-11-28T11:40:00Z', event='end')]))
    assert record['lease_state'] == 'released' and not _record.is_present(record, NOW)
    assert record['ip_history'] == [{'ip': T, 'from': '2026-11-28T11:00:00Z', 'to': '2026-11-28T11:40:00Z'}]


def test_a_reconnect_whose_disconnect_was_lost_starts_a_new_holding():
    records = {}
    fold(records, vpn_report(NOW, [observed('vpn_user', 'bob', T, '2026-11-28T10:00:00Z'),
                                   observed('vpn_user', 'bob', T, '2026-11-28T10:20:00Z', event='seen'),
                                   observed('vpn_user', 'bob', T, '2026-11-28T11:00:00Z')]))
    assert records[USER]['held_since'] == '2026-11-28T11:00:00Z'
    assert records[USER]['ip_history'] == [{'ip': T, 'from': '2026-11-28T10:00:00Z', 'to': '2026-11-28T10:20:00Z'}]
    before = copy.deepcopy(records)
    fold(records, vpn_report(NOW, [observed('vpn_user', 'bob', T, '2026-11-28T11:00:00Z')]))   # redelivered
    assert records == before


def test_a_tunnel_ip_given_to_another_identity_ends_the_first_one_s_holding_whatever_the_kinds():
    records = {}
    fold(records, vpn_report(NOW, [observed('vpn_cert', 'alice-laptop', T, '2026-11-28T10:00:00Z')]))
    fold(records, vpn_report(NOW, [observed('vpn_user', 'bob', T, '2026-11-28T10:30:00Z')]))
    assert records[CERT]['lease_state'] == _record.REASSIGNED and records[USER]['lease_state'] == 'active'
    # a DHCP lease of that address (a misconfigured pool) ends the VPN identity's holding too
    fold(records, report(NOW, events=[{'id': 'e', 'kind': 'lease', 'time': '2026-11-28T10:45:00Z', 'mac': A, 'ip': T,
                                       'lease_expires': '2026-11-28T12:45:00Z'}]))
    assert records[USER]['lease_state'] == _record.REASSIGNED and records[USER]['ip_history'][-1]['to'] == '2026-11-28T10:30:00Z'


def test_a_logon_at_a_leased_ip_holds_it_beside_the_mac_and_a_new_lease_of_the_ip_ends_the_logon():
    records = {}
    fold(records, report('2026-11-28T10:00:00Z', leases=[lease(A, X, '2026-11-28T13:00:00Z')]))
    fold(records, vpn_report(NOW, [observed('ad_machine', 'LAPTOP01$', X, '2026-11-28T10:05:00Z', source='samba',
                                            event='seen')]))
    assert records[A]['lease_state'] == 'active' and records[AD]['lease_state'] == 'active'
    fold(records, report(NOW, leases=[lease(A, X, '2026-11-28T13:10:00Z')]))            # the MAC renews: both stay
    assert records[AD]['lease_state'] == 'active'
    fold(records, report(NOW, events=[{'id': 'b', 'kind': 'lease', 'time': '2026-11-28T11:58:00Z', 'mac': B, 'ip': X,
                                       'lease_expires': '2026-11-28T13:58:00Z'}]))
    assert records[A]['lease_state'] == records[AD]['lease_state'] == _record.REASSIGNED


def test_wireguard_handshakes_are_seen_holdings_that_end_when_their_keys_would():
    records = {}
    row = observed('wg_key', '3xYzPeerKey=', '10.90.0.2', '2026-11-28T11:58:00Z', event='seen', source='wireguard',
                   until='2026-11-28T12:01:00Z')
    fold(records, vpn_report(NOW, table=[row]))
    assert _record.is_present(records[WG], NOW) and not _record.is_present(records[WG], '2026-11-28T12:01:00Z')


def test_unusable_observations_are_skipped_and_counted():
    records = {}
    bad = [observed('vpn_cert', 'a b', T, NOW), observed('vpn_cert', 'alice-laptop', 'not-an-ip', NOW),
           dict(observed('vpn_cert', 'alice-laptop', T, NOW), event='teleported'), {'identity': 'x'}]
    changed, skipped = _remember.fold(records, [vpn_report(NOW, bad)])
    assert changed == set() and records == {} and len(skipped) == 4


def test_the_live_tables_name_every_identity_holding_an_ip():
    holders = _remember.lease_holders([
        vpn_report(NOW, table=[observed('vpn_cert', 'alice-laptop', T, NOW, event='seen'),
                               observed('vpn_user', 'alice', T, NOW, event='seen')]),
        report(NOW, leases=[lease(A, X, '2026-11-28T13:00:00Z'), lease(B, '10.77.0.9', '2026-11-28T13:00:00Z', state='expired')])])
    assert holders == {T: {CERT, 'vpn_user:alice'}, X: {A}}


def test_an_ip_two_live_tables_give_to_different_identities_is_held_by_nobody():
    """One table naming one session by certificate and user name is one holder; a second table (another server)
    giving that IP to someone else leaves it proven for nobody, whatever the kinds."""
    both_names = vpn_report(NOW, table=[observed('vpn_cert', 'alice-laptop', T, NOW, event='seen'),
                                        observed('vpn_user', 'alice', T, NOW, event='seen')])
    again = vpn_report(NOW, table=[observed('vpn_user', 'alice', T, NOW, event='seen'),
                                   observed('vpn_cert', 'alice-laptop', T, NOW, event='seen')])
    other = vpn_report(NOW, table=[observed('vpn_cert', 'bob-laptop', T, NOW, event='seen')])
    leased = report(NOW, leases=[lease(A, T, '2026-11-28T13:00:00Z')])
    assert _remember.lease_holders([both_names, again]) == {T: {CERT, 'vpn_user:alice'}}
    assert _remember.lease_holders([both_names, other]) == {}
    assert _remember.lease_holders([both_names, leased]) == {}


def test_a_certificate_s_own_record_is_no_evidence_for_a_link():
    records = {CERT: held(CERT, T, since='2026-11-28T10:00:00Z')}
    cert = observed('vpn_cert', 'alice-laptop', T, '2026-11-28T10:30:00Z', event='seen')
    assert _devices.authenticated_links([cert], records) == {}


# -- decide, verify, confirm on any identity's holding -------------------------------------------------

def vpn_present(key, ip, since='2026-11-28T11:00:00Z', seen='2026-11-28T11:55:00Z', authority='table', **more):
    record = held(key, ip, since)
    record.update(last_seen=seen, authority=authority, **more)
    return record


def test_a_vpn_identity_due_for_a_scan_is_a_target_with_its_tunnel_ip():
    records = {CERT: vpn_present(CERT, T)}
    plan = _decide.plan(records, NOW, 30, 10, 1)
    assert plan['targets'] == [{'identity': CERT, 'mac': None, 'ip': T, 'overdue_since': '2026-11-28T11:00:00Z'}]
    changed, launch, dropped = _launch.record_intent(records, plan['title'], plan['targets'], {T: {CERT}}, NOW)
    assert launch == [{'identity': CERT, 'mac': None, 'ip': T}] and records[CERT]['pending']['ip'] == T


def test_verify_drops_a_tunnel_ip_now_held_by_another_identity():
    records = {CERT: vpn_present(CERT, T)}
    targets = [{'identity': CERT, 'mac': None, 'ip': T}]
    changed, launch, dropped = _launch.record_intent(records, 'roamscan T', targets, {T: {USER}}, NOW)
    assert launch == [] and dropped == [{'identity': CERT, 'mac': None, 'ip': T, 'reason': _launch.NOT_LEASED}]


def test_a_holding_known_only_from_a_log_is_scanned_only_when_log_credit_is_allowed():
    records = {'imported:nac-77': vpn_present('imported:nac-77', T, since='2026-11-28T09:00:00Z', authority='log')}
    assert _decide.candidates(records, NOW, 30) == []
    assert [item['ip'] for item in _decide.candidates(records, NOW, 30, credit_log=True)] == [T]
    targets = [{'identity': 'imported:nac-77', 'mac': None, 'ip': T}]
    assert _launch.record_intent(copy.deepcopy(records), 't', targets, {}, NOW)[1] == []
    changed, launch, dropped = _launch.record_intent(records, 't', targets, {}, NOW, credit_log=True)
    assert launch == targets
    records['imported:nac-77']['pending'] = {'scan_ref': 'scan/1.1', 'ip': T, 'launched_at': LAUNCHED, 'title': 't'}
    records['imported:nac-77']['lease_expires'] = '2026-11-28T13:00:00Z'
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[T])], NOW, 24)
    assert outcome['credited'][0]['authority'] == 'log'
    assert records['imported:nac-77']['last_scan_authority'] == 'log'


def test_a_finished_scan_of_a_session_still_open_waits_for_evidence_that_reaches_its_end():
    """A session table read shortly before the status poll proves the session only until that read."""
    records = {CERT: pending_on(vpn_present(CERT, T, since='2026-11-28T09:00:00Z', seen='2026-11-28T11:59:00Z'))}
    scan = finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[T])
    changed, outcome = _confirm.confirm(records, [scan], NOW, 24)
    assert outcome['credited'] == outcome['not_credited'] == [] and records[CERT]['pending']['done_at'] == NOW
    # the next cycle's table still lists the session after that moment: credited, to that moment's window
    seen = observed('vpn_cert', 'alice-laptop', T, '2026-11-28T12:15:00Z', event='seen')
    fold(records, vpn_report('2026-11-28T12:15:00Z', table=[seen]))
    changed, outcome = _confirm.confirm(records, [scan], '2026-11-28T12:15:05Z', 24)
    assert [item['identity'] for item in outcome['credited']] == [CERT] and records[CERT]['last_scanned'] == LAUNCHED


def test_a_disconnect_before_the_scan_was_seen_finished_gives_no_credit():
    records = {CERT: pending_on(vpn_present(CERT, T, since='2026-11-28T09:00:00Z', seen='2026-11-28T11:59:00Z'))}
    scan = finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[T])
    _confirm.confirm(records, [scan], NOW, 24)
    fold(records, vpn_report('2026-11-28T12:15:00Z', [observed('vpn_cert', 'alice-laptop', T, '2026-11-28T11:59:30Z',
                                                               event='end')]))
    changed, outcome = _confirm.confirm(records, [scan], '2026-11-28T12:15:05Z', 24)
    assert outcome['credited'] == [] and outcome['not_credited'][0]['identity'] == CERT
    assert records[CERT]['last_scanned'] is None and _record.is_overdue(records[CERT], NOW, 30)


def test_a_dhcp_holding_is_credited_or_refused_at_once_as_before():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[X])], NOW, 24)
    assert [item['identity'] for item in outcome['credited']] == [A] and 'done_at' not in (records[A]['pending'] or {})


def test_a_scan_down_the_tunnel_credits_the_office_mac_linked_by_the_alias_list():
    groups, skipped = _devices.load_aliases([{'device': 'alice', 'identities': ['mac:' + A, CERT]}])
    records = {CERT: pending_on(vpn_present(CERT, T, since='2026-11-28T09:00:00Z', lease_expires='2026-11-28T13:00:00Z')),
               A: present(A, X, since='2026-11-20T09:00:00Z')}
    records[A].update(lease_state='expired')
    devices = _devices.Devices(records, groups)
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', LAUNCHED, '00:10:00', scanned=[T])], NOW, 24, devices)
    assert outcome['credited'][0]['also'] == [A] and records[A]['last_scanned'] == LAUNCHED
    assert records[A]['last_scan_via'] == CERT


def test_one_session_named_by_certificate_and_user_name_in_one_read_is_no_ip_reuse():
    records = {}
    both = [observed('vpn_cert', 'alice-laptop', T, NOW, event='seen'), observed('vpn_user', 'alice', T, NOW, event='seen')]
    fold(records, vpn_report(NOW, table=both))
    later = '2026-11-28T12:05:00Z'
    fold(records, vpn_report(later, table=[dict(item, time=later) for item in both]))
    assert records[CERT]['lease_state'] == records['vpn_user:alice']['lease_state'] == 'active'
    assert records[CERT]['ip_history'] == [] and records[CERT]['held_since'] == NOW
