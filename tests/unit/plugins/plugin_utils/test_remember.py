# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _record, _remember
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, C, X, Y, event, report, lease, folded


def test_new_lease_creates_record_keyed_by_normalised_mac():
    records = folded(report('2026-11-28T07:05:00Z', events=[
        event('lease', '2:77:0:0:a:1', X, '2026-11-28T07:03:14Z', expires='2026-11-28T08:03:14Z', hostname='alice-lt')]))
    record = records[A]
    assert record['schema'] == 1 and record['mac'] == A and record['ip'] == X
    assert record['hostname'] == 'alice-lt'
    assert record['first_seen'] == record['held_since'] == record['last_seen'] == '2026-11-28T07:03:14Z'
    assert record['lease_state'] == 'active' and record['lease_expires'] == '2026-11-28T08:03:14Z'
    assert record['dhcp_server'] == 'dhcp1' and record['pending'] is None and record['last_scanned'] is None
    _record.validate_record(record, A)


def test_renewals_keep_held_since_and_move_last_seen():
    records = folded(report('2026-11-28T09:00:00Z', events=[
        event('lease', A, X, '2026-11-28T07:00:00Z', expires='2026-11-28T08:00:00Z'),
        event('renew', A, X, '2026-11-28T07:30:00Z', expires='2026-11-28T08:30:00Z'),
        event('renew', A, X, '2026-11-28T08:00:00Z', expires='2026-11-28T09:00:00Z')]))
    assert records[A]['held_since'] == '2026-11-28T07:00:00Z'
    assert records[A]['last_seen'] == '2026-11-28T08:00:00Z'
    assert records[A]['lease_expires'] == '2026-11-28T09:00:00Z'
    assert records[A]['ip_history'] == []


def test_lease_after_the_old_one_ran_out_starts_a_new_holding():
    records = folded(report('2026-11-28T12:00:00Z', events=[
        event('lease', A, X, '2026-11-28T07:00:00Z', expires='2026-11-28T08:00:00Z'),
        event('lease', A, X, '2026-11-28T11:00:00Z', expires='2026-11-28T12:30:00Z')]))
    assert records[A]['held_since'] == '2026-11-28T11:00:00Z'
    assert records[A]['ip_history'] == [{'ip': X, 'from': '2026-11-28T07:00:00Z', 'to': '2026-11-28T08:00:00Z'}]


def test_release_closes_the_holding_at_the_release_time():
    records = folded(report('2026-11-28T09:00:00Z', events=[
        event('lease', A, X, '2026-11-28T07:00:00Z', expires='2026-11-28T08:00:00Z'),
        event('release', A, X, '2026-11-28T07:20:00Z')]))
    assert records[A]['lease_state'] == 'released'
    assert records[A]['ip_history'] == [{'ip': X, 'from': '2026-11-28T07:00:00Z', 'to': '2026-11-28T07:20:00Z'}]
    assert not _record.is_present(records[A], '2026-11-28T07:30:00Z')


def test_expired_lease_in_table_closes_at_its_expiry():
    records = folded(report('2026-11-28T07:10:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    folded(report('2026-11-28T09:00:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z', state='expired')]), records=records)
    assert records[A]['lease_state'] == 'expired'
    assert records[A]['ip_history'][-1] == {'ip': X, 'from': '2026-11-28T07:10:00Z', 'to': '2026-11-28T08:00:00Z'}


def test_active_row_whose_expiry_passed_is_not_presence():
    records = folded(report('2026-11-28T09:00:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    assert A not in records or not _record.is_present(records[A], '2026-11-28T09:00:00Z')


def test_lease_table_alone_gives_held_since_of_first_sighting():
    records = folded(report('2026-11-28T07:10:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    folded(report('2026-11-28T07:25:00Z', leases=[lease(A, X, '2026-11-28T08:15:00Z')]), records=records)
    assert records[A]['held_since'] == '2026-11-28T07:10:00Z'
    assert records[A]['last_seen'] == '2026-11-28T07:25:00Z'
    assert records[A]['lease_expires'] == '2026-11-28T08:15:00Z'


def test_ip_reuse_closes_previous_holder():
    records = folded(report('2026-11-28T07:10:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    folded(report('2026-11-28T09:00:00Z', events=[event('lease', B, X, '2026-11-28T08:30:00Z', expires='2026-11-28T09:30:00Z')],
                  leases=[lease(B, X, '2026-11-28T09:30:00Z')]), records=records)
    assert records[B]['ip'] == X and records[B]['held_since'] == '2026-11-28T08:30:00Z'
    assert records[A]['lease_state'] == _record.REASSIGNED
    # A's lost release happened at an unknown moment: the holding ends at its last sighting
    assert records[A]['ip_history'][-1] == {'ip': X, 'from': '2026-11-28T07:10:00Z', 'to': '2026-11-28T07:10:00Z'}


def test_moving_to_another_ip_closes_the_old_one():
    records = folded(report('2026-11-28T08:00:00Z', events=[
        event('lease', A, X, '2026-11-28T07:00:00Z', expires='2026-11-28T09:00:00Z'),
        event('lease', A, Y, '2026-11-28T07:40:00Z', expires='2026-11-28T09:40:00Z')]))
    assert records[A]['ip'] == Y and records[A]['held_since'] == '2026-11-28T07:40:00Z'
    assert records[A]['ip_history'] == [{'ip': X, 'from': '2026-11-28T07:00:00Z', 'to': '2026-11-28T07:00:00Z'}]


def test_table_row_of_newer_lease_by_other_mac_ends_remembered_holding():
    records = folded(report('2026-11-28T07:10:00Z', leases=[lease(A, X, '2026-11-28T07:40:00Z')]))
    # B had X after A and already lost it again: only the latest state per IP is in the table
    folded(report('2026-11-28T09:00:00Z', leases=[lease(B, X, '2026-11-28T08:40:00Z', state='expired')]), records=records)
    assert records[A]['lease_state'] == _record.REASSIGNED


def test_kea_declined_address_without_mac_ends_the_holder():
    records = folded(report('2026-11-28T07:10:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    changed, skipped = _remember.fold(records, [report('2026-11-28T07:30:00Z', leases=[lease(None, X, '2026-11-28T07:20:00Z', state='declined')])])
    assert skipped == [] and records[A]['lease_state'] == _record.REASSIGNED and None not in records


def test_ip_history_is_bounded():
    events = []
    for hour in range(_record.IP_HISTORY_LIMIT + 5):
        ip = '10.77.1.%d' % (hour + 1)
        events.append(event('lease', A, ip, '2026-11-28T%02d:00:00Z' % hour, expires='2026-11-28T%02d:30:00Z' % hour))
        events.append(event('release', A, ip, '2026-11-28T%02d:10:00Z' % hour))
    records = folded(report('2026-11-29T00:00:00Z', events=events))
    history = records[A]['ip_history']
    assert len(history) == _record.IP_HISTORY_LIMIT
    assert history[-1]['ip'] == '10.77.1.%d' % (_record.IP_HISTORY_LIMIT + 5)


def test_redelivered_events_change_nothing():
    events = [event('lease', A, X, '2026-11-28T07:00:00Z', expires='2026-11-28T08:00:00Z'),
              event('release', A, X, '2026-11-28T07:20:00Z')]
    records = folded(report('2026-11-28T07:30:00Z', events=events))
    before = copy.deepcopy(records)
    folded(report('2026-11-28T07:45:00Z', events=events), records=records)
    assert records == before


def test_events_from_two_servers_are_merged_in_time_order():
    second = report('2026-11-28T09:00:00Z', name='dhcp2', events=[event('lease', B, X, '2026-11-28T08:00:00Z', expires='2026-11-28T10:00:00Z')])
    first = report('2026-11-28T09:00:00Z', name='dhcp1', events=[
        event('lease', A, X, '2026-11-28T07:00:00Z', expires='2026-11-28T07:30:00Z'),
        event('release', A, X, '2026-11-28T07:10:00Z')])
    records = folded(second, first)
    assert records[B]['lease_state'] == 'active' and records[B]['dhcp_server'] == 'dhcp2'
    assert records[A]['lease_state'] == 'released'


def test_bad_entries_are_skipped_and_reported_the_rest_is_folded():
    records = {}
    changed, skipped = _remember.fold(records, [report('2026-11-28T09:00:00Z', events=[
        event('lease', 'zz:77:00:00:0a:01', X, '2026-11-28T07:00:00Z'),
        event('lease', A, '10.77.0.300', '2026-11-28T07:00:00Z'),
        event('teleport', A, X, '2026-11-28T07:00:00Z'),
        event('lease', A, X, 'yesterday'),
        'not a mapping',
        event('lease', B, Y, '2026-11-28T07:00:00Z', expires='2026-11-28T10:00:00Z')],
        leases=[lease(C, 'nope', '2026-11-28T10:00:00Z'), lease(C, X, '2026-11-28T10:00:00Z', state='bogus')])])
    assert set(records) == {B} and changed == {B}
    assert len(skipped) == 7
    assert all(item['server'] == 'dhcp1' and item['reason'] for item in skipped)


def test_report_without_now_is_skipped_whole():
    observations, skipped = _remember.observations_from_report({'events': [], 'leases': []}, 'dhcp9')
    assert observations == [] and skipped[0]['server'] == 'dhcp9'


def test_an_ha_peer_that_died_keeps_no_stale_copy_from_ending_the_holding_its_partner_renewed():
    """Both peers of a Kea HA pair hold the lease; the primary died at 07:00 (its copy ran out at 07:20), the standby
    renewed the laptop at 07:15 until 07:35: one continuous holding, whatever the order of the two reads."""
    records = folded(report('2026-11-28T07:00:00Z', leases=[lease(A, X, '2026-11-28T07:20:00Z')], name='dhcp1'),
                     report('2026-11-28T07:00:01Z', leases=[lease(A, X, '2026-11-28T07:20:00Z')], name='dhcp2'))
    dead = report('2026-11-28T07:30:05Z', leases=[lease(A, X, '2026-11-28T07:20:00Z', state='expired')], name='dhcp1')
    standby = report('2026-11-28T07:30:00Z', leases=[lease(A, X, '2026-11-28T07:35:00Z')], name='dhcp2')
    for order in ((dead, standby), (standby, dead)):
        again = folded(*order, records=copy.deepcopy(records))
        assert again[A]['lease_state'] == 'active' and again[A]['held_since'] == '2026-11-28T07:00:00Z'
        assert again[A]['ip_history'] == [] and again[A]['lease_expires'] == '2026-11-28T07:35:00Z'
    # the pair's other order: the standby's copy is the stale one once the laptop left and its lease ran out
    left = folded(report('2026-11-28T08:00:00Z', leases=[lease(A, X, '2026-11-28T07:35:00Z', state='expired')], name='dhcp2'),
                  report('2026-11-28T08:00:00Z', leases=[lease(A, X, '2026-11-28T07:20:00Z', state='expired')], name='dhcp1'),
                  records=copy.deepcopy(records))
    assert left[A]['lease_state'] == 'expired' and left[A]['ip_history'][-1]['to'] == '2026-11-28T07:35:00Z'


# -- an end that names no IP (ASA 113019 through the receiver or log_presence) ---------------------------

def presence(host, source, *items, table=()):
    """A presence_events / log_presence result of ``host``: (event, user, ip or None, time) observations and table rows."""
    def observation(event, user, ip, moment):
        return {'id': None, 'source': {'kind': source, 'host': host}, 'event': event, 'why': event,
                'identity': {'kind': 'vpn_user', 'value': user}, 'ip': ip, 'time': moment,
                'until': '2026-11-28T20:00:00Z' if event != 'end' and source in ('receiver', 'syslog') else None,
                'aliases': {}, 'hostname': None, 'authority': 'table' if source == 'openvpn' else 'log'}
    return {'server_name': host, 'now': '2026-11-28T12:00:00Z', 'source': source,
            'observations': [observation(*item) for item in items], 'table': [observation(*row) for row in table]}


def fold_with_ends(records, reports):
    """What cycle_remember does: give each IP-less end the IP of its source's holding, then fold."""
    assert _remember.session_end_keys(reports) <= {'vpn_user:carol', 'vpn_user:dave'}
    return _remember.fold(records, [_remember.with_session_ends(report, records) for report in reports])


def test_a_receiver_end_without_an_ip_ends_that_identitys_receiver_holding_at_its_time_and_nothing_else():
    records = {}
    fold_with_ends(records, [presence('collector1', 'receiver', ('start', 'carol', '10.88.0.7', '2026-11-28T11:00:00Z'),
                                      ('start', 'dave', '10.88.0.8', '2026-11-28T11:00:00Z'))])
    assert records['vpn_user:carol']['lease_state'] == 'active'
    changed, skipped = fold_with_ends(records, [presence('collector1', 'receiver',
                                                         ('end', 'carol', None, '2026-11-28T11:30:00Z'))])
    carol, dave = records['vpn_user:carol'], records['vpn_user:dave']
    assert changed == {'vpn_user:carol'} and skipped == []
    assert carol['lease_state'] == 'released' and carol['ip_history'][-1] == {
        'ip': '10.88.0.7', 'from': '2026-11-28T11:00:00Z', 'to': '2026-11-28T11:30:00Z'}
    assert not _record.held_at(carol, '10.88.0.7', '2026-11-28T11:45:00Z')
    assert dave['lease_state'] == 'active' and dave['ip'] == '10.88.0.8'


def test_an_end_without_an_ip_in_the_same_read_as_its_connect_ends_it():
    records = {}
    fold_with_ends(records, [presence('collector1', 'receiver', ('start', 'carol', '10.88.0.7', '2026-11-28T11:00:00Z'),
                                      ('end', 'carol', None, '2026-11-28T11:10:00Z'))])
    assert records['vpn_user:carol']['lease_state'] == 'released'
    assert records['vpn_user:carol']['ip_history'][-1]['to'] == '2026-11-28T11:10:00Z'


def test_an_end_without_an_ip_never_ends_a_holding_another_source_keeps():
    """A VPN server's live table (authority table), another log source kind or another receiver host holds the same
    user name: an IP-less end from the receiver is not theirs to end, so it ends nothing."""
    records = {}
    fold_with_ends(records, [presence('vpn1', 'openvpn', table=[('seen', 'carol', '10.8.0.5', '2026-11-28T11:00:00Z')]),
                             presence('loghost', 'syslog', ('start', 'dave', '10.88.0.8', '2026-11-28T11:00:00Z'))])
    before = copy.deepcopy(records)
    ends = [presence('collector1', 'receiver', ('end', 'carol', None, '2026-11-28T11:30:00Z'),
                     ('end', 'dave', None, '2026-11-28T11:30:00Z')),
            presence('collector2', 'syslog', ('end', 'dave', None, '2026-11-28T11:30:00Z'))]
    assert [_remember.with_session_ends(report, records)['observations'] for report in ends] == [[], []]
    changed, skipped = fold_with_ends(records, ends)
    assert changed == set() and skipped == [] and records == before
    assert records['vpn_user:carol']['authority'] == 'table' and records['vpn_user:carol']['lease_state'] == 'active'
    # the source that took the holding does end it
    fold_with_ends(records, [presence('loghost', 'syslog', ('end', 'dave', None, '2026-11-28T11:40:00Z'))])
    assert records['vpn_user:dave']['lease_state'] == 'released'
