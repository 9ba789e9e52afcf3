# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import copy

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils import planner

A = '02:77:00:00:0a:01'
B = '02:77:00:00:0b:02'
C = '02:77:00:00:0c:03'
X = '10.77.0.100'
Y = '10.77.0.101'


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
    planner.fold(records, list(reports))
    return records


def finished(ref, launched, duration, scanned=(), not_scanned=(), processed=True, state='Finished'):
    return {'ref': ref, 'title': 't', 'state': state, 'sub_state': None, 'processed': processed,
            'launched': launched, 'duration': duration, 'targets': list(scanned) + [n['ip'] for n in not_scanned],
            'done': state in ('Finished', 'Canceled', 'Error'), 'scanned': list(scanned), 'not_scanned': list(not_scanned)}


# --- fold ----------------------------------------------------------------------------------

def test_new_lease_creates_record_keyed_by_normalised_mac():
    records = folded(report('2026-11-28T07:05:00Z', events=[
        event('lease', '2:77:0:0:a:1', X, '2026-11-28T07:03:14Z', expires='2026-11-28T08:03:14Z', hostname='alice-lt')]))
    record = records[A]
    assert record['schema'] == 1 and record['mac'] == A and record['ip'] == X
    assert record['hostname'] == 'alice-lt'
    assert record['first_seen'] == record['held_since'] == record['last_seen'] == '2026-11-28T07:03:14Z'
    assert record['lease_state'] == 'active' and record['lease_expires'] == '2026-11-28T08:03:14Z'
    assert record['dhcp_server'] == 'dhcp1' and record['pending'] is None and record['last_scanned'] is None
    planner.validate_record(record, A)


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
    assert not planner.is_present(records[A], '2026-11-28T07:30:00Z')


def test_expired_lease_in_table_closes_at_its_expiry():
    records = folded(report('2026-11-28T07:10:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    folded(report('2026-11-28T09:00:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z', state='expired')]), records=records)
    assert records[A]['lease_state'] == 'expired'
    assert records[A]['ip_history'][-1] == {'ip': X, 'from': '2026-11-28T07:10:00Z', 'to': '2026-11-28T08:00:00Z'}


def test_active_row_whose_expiry_passed_is_not_presence():
    records = folded(report('2026-11-28T09:00:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    assert A not in records or not planner.is_present(records[A], '2026-11-28T09:00:00Z')


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
    assert records[A]['lease_state'] == planner.REASSIGNED
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
    assert records[A]['lease_state'] == planner.REASSIGNED


def test_kea_declined_address_without_mac_ends_the_holder():
    records = folded(report('2026-11-28T07:10:00Z', leases=[lease(A, X, '2026-11-28T08:00:00Z')]))
    changed, skipped = planner.fold(records, [report('2026-11-28T07:30:00Z', leases=[lease(None, X, '2026-11-28T07:20:00Z', state='declined')])])
    assert skipped == [] and records[A]['lease_state'] == planner.REASSIGNED and None not in records


def test_ip_history_is_bounded():
    events = []
    for hour in range(planner.IP_HISTORY_LIMIT + 5):
        ip = '10.77.1.%d' % (hour + 1)
        events.append(event('lease', A, ip, '2026-11-28T%02d:00:00Z' % hour, expires='2026-11-28T%02d:30:00Z' % hour))
        events.append(event('release', A, ip, '2026-11-28T%02d:10:00Z' % hour))
    records = folded(report('2026-11-29T00:00:00Z', events=events))
    history = records[A]['ip_history']
    assert len(history) == planner.IP_HISTORY_LIMIT
    assert history[-1]['ip'] == '10.77.1.%d' % (planner.IP_HISTORY_LIMIT + 5)


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
    changed, skipped = planner.fold(records, [report('2026-11-28T09:00:00Z', events=[
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
    observations, skipped = planner.observations_from_report({'events': [], 'leases': []}, 'dhcp9')
    assert observations == [] and skipped[0]['server'] == 'dhcp9'


# --- decide --------------------------------------------------------------------------------

NOW = '2026-11-28T12:00:00Z'


def present(mac, ip, since='2026-11-28T11:00:00Z', last_scanned=None, first_seen=None, pending=None, seen='2026-11-28T11:55:00Z'):
    record = planner.new_record(mac, first_seen or since)
    record.update({'ip': ip, 'held_since': since, 'last_seen': seen, 'lease_state': 'active',
                   'lease_expires': '2026-11-28T13:00:00Z', 'last_scanned': last_scanned, 'pending': pending})
    return record


def test_overdue_present_not_pending_are_candidates_most_overdue_first():
    records = {
        A: present(A, X, last_scanned='2026-10-01T00:00:00Z'),                              # due 2026-10-31
        B: present(B, Y, first_seen='2026-09-01T00:00:00Z'),                                # never: due at first sight
        C: present(C, '10.77.0.102', last_scanned='2026-11-20T00:00:00Z'),                  # not due yet
        '02:77:00:00:0d:04': present('02:77:00:00:0d:04', '10.77.0.103',
                                     pending={'scan_ref': 'scan/1.1', 'ip': '10.77.0.103', 'launched_at': NOW, 'title': 't'}),
    }
    gone = present('02:77:00:00:0e:05', '10.77.0.104')
    gone['lease_state'] = 'released'
    records[gone['mac']] = gone
    expired = present('02:77:00:00:0f:06', '10.77.0.105')
    expired['lease_expires'] = '2026-11-28T11:59:59Z'
    records[expired['mac']] = expired
    found = planner.candidates(records, NOW, rescan_days=30)
    assert [item['mac'] for item in found] == [B, A]
    assert found[1]['overdue_since'] == '2026-10-31T00:00:00Z'


def test_plan_caps_and_titles_deterministically():
    records = {'02:77:00:00:01:%02x' % i: present('02:77:00:00:01:%02x' % i, '10.77.2.%d' % i,
                                                  last_scanned='2026-10-%02dT00:00:00Z' % (i + 1)) for i in range(10)}
    result = planner.plan(records, NOW, 30, max_hosts_per_cycle=3, max_active_scans=2)
    assert [t['ip'] for t in result['targets']] == ['10.77.2.0', '10.77.2.1', '10.77.2.2']
    assert result['title'] == 'roamscan %s' % NOW and not result['resumed'] and result['held'] is None


def test_plan_holds_everything_while_max_active_scans_are_pending():
    records = {
        A: present(A, X, pending={'scan_ref': 'scan/1.1', 'ip': X, 'launched_at': NOW, 'title': 't1'}),
        B: present(B, Y, pending={'scan_ref': 'scan/1.2', 'ip': Y, 'launched_at': NOW, 'title': 't2'}),
        C: present(C, '10.77.0.102'),
    }
    held = planner.plan(records, NOW, 30, max_hosts_per_cycle=10, max_active_scans=2)
    assert held['targets'] == [] and 'scan/1.1' in held['held']
    free = planner.plan(records, NOW, 30, max_hosts_per_cycle=10, max_active_scans=3)
    assert [t['mac'] for t in free['targets']] == [C]


def test_nothing_to_do_gives_no_title():
    assert planner.plan({A: present(A, X, last_scanned='2026-11-27T00:00:00Z')}, NOW, 30, 10, 1)['title'] is None


# --- act: intent, launch, resume ------------------------------------------------------------

def test_intent_reverifies_against_fresh_lease_table():
    records = {A: present(A, X), B: present(B, Y)}
    holders = planner.lease_holders([report(NOW, leases=[lease(A, X, '2026-11-28T13:00:00Z'), lease(C, Y, '2026-11-28T13:00:00Z')])])
    changed, launch, dropped = planner.record_intent(records, 'roamscan T', [{'mac': A, 'ip': X}, {'mac': B, 'ip': Y}], holders, NOW)
    assert launch == [{'mac': A, 'ip': X}] and [d['mac'] for d in dropped] == [B]
    assert records[A]['pending'] == {'scan_ref': None, 'ip': X, 'launched_at': NOW, 'title': 'roamscan T'}
    assert records[B]['pending'] is None and changed == {A}


def test_launch_records_refs_by_scan_targets_and_clears_the_rest():
    records = {A: present(A, X), B: present(B, Y)}
    holders = {X: A, Y: B}
    planner.record_intent(records, 'roamscan T', [{'mac': A, 'ip': X}, {'mac': B, 'ip': Y}], holders, NOW)
    changed, recorded, missing = planner.record_launch(records, 'roamscan T', [{'ref': 'scan/9.1', 'targets': ['10.77.0.90-10.77.0.100']}])
    assert recorded == [{'mac': A, 'ip': X, 'scan_ref': 'scan/9.1'}] and missing == [{'mac': B, 'ip': Y}]
    assert records[A]['pending']['scan_ref'] == 'scan/9.1' and records[B]['pending'] is None


def test_run_stopped_after_intent_resumes_with_same_title_instead_of_new_plan():
    records = {A: present(A, X), B: present(B, Y)}
    planner.record_intent(records, 'roamscan 2026-11-28T11:45:00Z', [{'mac': A, 'ip': X}], {X: A}, '2026-11-28T11:45:00Z')
    # killed here; next run:
    again = planner.plan(records, NOW, 30, max_hosts_per_cycle=10, max_active_scans=1)
    assert again['resumed'] and again['title'] == 'roamscan 2026-11-28T11:45:00Z'
    assert again['intended_at'] == '2026-11-28T11:45:00Z'  # what the launch's resume.since needs
    assert again['targets'] == [{'mac': A, 'ip': X, 'overdue_since': '2026-11-28T11:00:00Z'}]
    # the intent keeps its launch time when re-recorded
    planner.record_intent(records, again['title'], again['targets'], {X: A}, NOW)
    assert records[A]['pending']['launched_at'] == '2026-11-28T11:45:00Z'


# --- confirm ---------------------------------------------------------------------------------

LAUNCHED = '2026-11-28T10:00:00Z'


def pending_on(record, ref='scan/1.1'):
    record['pending'] = {'scan_ref': ref, 'ip': record['ip'], 'launched_at': LAUNCHED, 'title': 'roamscan T'}
    return record


def test_finished_processed_alive_and_held_is_credited():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = planner.confirm(records, [finished('scan/1.1', '2026-11-28T10:03:00Z', '00:20:00', scanned=[X])], NOW, 24)
    assert [c['mac'] for c in outcome['credited']] == [A] and changed == {A}
    assert records[A]['last_scanned'] == LAUNCHED and records[A]['last_scan_ref'] == 'scan/1.1'
    assert records[A]['pending'] is None
    assert not planner.is_overdue(records[A], NOW, 30)


@pytest.mark.parametrize('scan, reason', [
    (finished('scan/1.1', '2026-11-28T10:03:00Z', '00:20:00', not_scanned=[{'ip': X, 'reason': 'host not alive'}]), 'not alive'),
    (finished('scan/1.1', '2026-11-28T10:03:00Z', '00:01:00', state='Canceled'), 'Canceled'),
    (finished('scan/1.1', '2026-11-28T10:03:00Z', '00:01:00', state='Error'), 'Error'),
])
def test_dead_cancelled_or_errored_stays_overdue(scan, reason):
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = planner.confirm(records, [scan], NOW, 24)
    assert outcome['credited'] == [] and reason in outcome['not_credited'][0]['reason']
    assert records[A]['pending'] is None and records[A]['last_scanned'] is None
    assert [c['mac'] for c in planner.candidates(records, NOW, 30)] == [A]


@pytest.mark.parametrize('scan', [
    finished('scan/1.1', '2026-11-28T10:03:00Z', None, scanned=[X], processed=False),
    {'ref': 'scan/1.1', 'state': 'Running', 'done': False, 'processed': False},
    {'ref': 'scan/1.1', 'state': 'Queued', 'done': False},
])
def test_unfinished_or_unprocessed_keeps_waiting(scan):
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = planner.confirm(records, [scan], NOW, 24)
    assert changed == set() and records[A]['pending']['scan_ref'] == 'scan/1.1'
    assert planner.candidates(records, NOW, 30) == []


def test_pending_too_long_is_abandoned_with_reason():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = planner.confirm(records, [{'ref': 'scan/1.1', 'state': 'Running', 'done': False}], '2026-11-29T10:00:01Z', 24)
    assert [a['mac'] for a in outcome['abandoned']] == [A] and '24' in outcome['abandoned'][0]['reason']
    assert records[A]['pending'] is None


def test_ip_reuse_before_the_scan_never_credits_the_new_holder_as_the_old():
    """A leaves, B gets A's IP before the scan runs: B is not credited as A and A stays overdue."""
    records = folded(report('2026-11-28T09:50:00Z', leases=[lease(A, X, '2026-11-28T10:50:00Z')]))
    planner.record_intent(records, 'roamscan T', [{'mac': A, 'ip': X}], {X: A}, '2026-11-28T09:55:00Z')
    planner.record_launch(records, 'roamscan T', [{'ref': 'scan/1.1', 'targets': [X]}])
    # A releases (the event is lost); B gets X; the scan runs and finds X alive (it is B)
    folded(report('2026-11-28T10:40:00Z', leases=[lease(B, X, '2026-11-28T11:40:00Z')]), records=records)
    changed, outcome = planner.confirm(records, [finished('scan/1.1', '2026-11-28T10:20:00Z', '00:10:00', scanned=[X])],
                                       '2026-11-28T10:40:00Z', 24)
    assert outcome['credited'] == [] and outcome['not_credited'][0]['mac'] == A
    assert records[A]['last_scanned'] is None and records[B]['last_scanned'] is None
    assert planner.is_overdue(records[A], '2026-11-28T10:40:00Z', 30)
    assert records[B]['pending'] is None


def test_release_before_the_finished_status_was_read_is_not_credited():
    """Qualys' launch + duration is no bound on when the IP was probed (queue time), so the holding must last
    until the scan was seen finished."""
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z', seen=LAUNCHED))}
    planner.fold(records, [report(NOW, events=[event('release', A, X, '2026-11-28T10:45:00Z')])])
    assert records[A]['lease_state'] == 'released'
    changed, outcome = planner.confirm(records, [finished('scan/1.1', '2026-11-28T10:05:00Z', '00:30:00', scanned=[X])], NOW, 24)
    assert outcome['credited'] == [] and 'not proven' in outcome['not_credited'][0]['reason']


def test_lease_valid_past_the_status_read_credits_without_a_new_sighting():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z', seen=LAUNCHED))}
    records[A]['lease_expires'] = '2026-11-28T12:30:00Z'
    changed, outcome = planner.confirm(records, [finished('scan/1.1', '2026-11-28T10:05:00Z', '00:30:00', scanned=[X])], NOW, 24)
    assert [c['mac'] for c in outcome['credited']] == [A]


def test_scan_found_finished_after_the_lease_ran_out_is_not_credited():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z', seen=LAUNCHED))}
    records[A]['lease_expires'] = '2026-11-28T11:00:00Z'
    changed, outcome = planner.confirm(records, [finished('scan/1.1', '2026-11-28T10:05:00Z', '00:30:00', scanned=[X])], NOW, 24)
    assert outcome['credited'] == []


# --- other schedules' scans -------------------------------------------------------------------

def test_host_list_scan_counts_only_inside_own_holding():
    records = {A: present(A, X, since='2026-11-28T09:00:00Z'), B: present(B, Y, since='2026-11-28T09:00:00Z')}
    hosts = [
        {'ip': X, 'mac': A, 'last_scanned': '2026-11-28T09:30:00Z', 'source': 'qualys'},   # inside A's holding
        {'ip': Y, 'mac': B, 'last_scanned': '2026-11-28T08:30:00Z', 'source': 'qualys'},   # before B held Y
    ]
    changed, merged = planner.merge_last_scanned(records, hosts, NOW)
    assert changed == {A} and merged == [{'mac': A, 'ip': X, 'last_scanned': '2026-11-28T09:30:00Z'}]
    assert records[B]['last_scanned'] is None


def test_host_list_ignores_local_source_future_dates_and_older_scans():
    records = {A: present(A, X, since='2026-11-28T09:00:00Z', last_scanned='2026-11-28T09:45:00Z')}
    hosts = [{'ip': X, 'mac': A, 'last_scanned': '2026-11-28T09:50:00Z', 'source': 'local'},
             {'ip': X, 'mac': A, 'last_scanned': '2026-11-28T12:30:00Z', 'source': 'qualys'},
             {'ip': X, 'mac': A, 'last_scanned': '2026-11-28T09:30:00Z', 'source': 'qualys'}]
    assert planner.merge_last_scanned(records, hosts, NOW) == (set(), [])


# --- records -----------------------------------------------------------------------------------

@pytest.mark.parametrize('mutate', [
    lambda r: r.update(schema=2),
    lambda r: r.update(mac=B),
    lambda r: r.update(ip='10.0.0.999'),
    lambda r: r.update(last_scanned='last tuesday'),
    lambda r: r.update(ip_history='none'),
    lambda r: r.update(ip_history=[{'ip': X}]),
    lambda r: r.update(pending={'scan_ref': 'scan/1'}),
    lambda r: r.update(held_since=None),
])
def test_validate_record_rejects_broken_records(mutate):
    record = present(A, X)
    mutate(record)
    with pytest.raises(planner.InvalidRecord):
        planner.validate_record(record, A)


def test_validate_record_rejects_non_mapping():
    with pytest.raises(planner.InvalidRecord):
        planner.validate_record(['x'], A)


def test_summary_counts():
    records = {A: present(A, X), B: present(B, Y, last_scanned='2026-11-27T00:00:00Z')}
    records[B]['lease_state'] = 'released'
    assert planner.summary(records, NOW, 30) == {'known': 2, 'present': 1, 'overdue': 1, 'pending': 0}


def test_coverage_counts_recently_seen_and_lists_overdue():
    recent_scanned = present(A, X, last_scanned='2026-11-20T00:00:00Z')
    recent_unscanned = present(B, Y)
    long_gone = present(C, '10.77.0.102', seen='2026-09-01T00:00:00Z', first_seen='2026-08-01T00:00:00Z')
    long_gone['lease_state'] = 'expired'
    result = planner.coverage({A: recent_scanned, B: recent_unscanned, C: long_gone}, NOW, 30, 30)
    assert (result['seen'], result['scanned'], result['share']) == (2, 1, 0.5)
    assert [item['mac'] for item in result['overdue']] == [B, C]
    assert result['overdue'][0]['present'] and not result['overdue'][1]['present']
    assert planner.coverage({}, NOW, 30, 30)['share'] is None
