# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _decide, _launch
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, C, X, Y, NOW, present


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
    found = _decide.candidates(records, NOW, rescan_days=30)
    assert [item['mac'] for item in found] == [B, A]
    assert found[1]['overdue_since'] == '2026-10-31T00:00:00Z'


def test_plan_caps_and_titles_deterministically():
    records = {'02:77:00:00:01:%02x' % i: present('02:77:00:00:01:%02x' % i, '10.77.2.%d' % i,
                                                  last_scanned='2026-10-%02dT00:00:00Z' % (i + 1)) for i in range(10)}
    result = _decide.plan(records, NOW, 30, max_hosts_per_cycle=3, max_active_scans=2)
    assert [t['ip'] for t in result['targets']] == ['10.77.2.0', '10.77.2.1', '10.77.2.2']
    assert result['title'] == 'roamscan %s' % NOW and not result['resumed'] and result['held'] is None
    assert result['held_back_count'] == 7
    assert [(item['position'], item['ip']) for item in result['held_back'][:2]] == [(4, '10.77.2.3'), (5, '10.77.2.4')]
    assert result['held_back'][0]['reason'] == 'this cycle is full (max_hosts_per_cycle=3)'


def test_equally_overdue_laptops_go_in_order_of_arrival():
    early = present(B, Y, since='2026-11-28T08:00:00Z', last_scanned='2026-10-01T00:00:00Z')
    late = present(A, X, since='2026-11-28T10:00:00Z', last_scanned='2026-10-01T00:00:00Z')
    result = _decide.plan({A: late, B: early}, NOW, 30, max_hosts_per_cycle=1, max_active_scans=1)
    assert [t['mac'] for t in result['targets']] == [B]
    assert [(item['mac'], item['position']) for item in result['held_back']] == [(A, 2)]


def test_plan_holds_everything_while_max_active_scans_are_pending():
    records = {
        A: present(A, X, pending={'scan_ref': 'scan/1.1', 'ip': X, 'launched_at': NOW, 'title': 't1'}),
        B: present(B, Y, pending={'scan_ref': 'scan/1.2', 'ip': Y, 'launched_at': NOW, 'title': 't2'}),
        C: present(C, '10.77.0.102'),
    }
    held = _decide.plan(records, NOW, 30, max_hosts_per_cycle=10, max_active_scans=2)
    assert held['targets'] == [] and 'scan/1.1' in held['held']
    assert [(item['mac'], item['position']) for item in held['held_back']] == [(C, 1)]
    assert 'max_active_scans=2' in held['held_back'][0]['reason']
    free = _decide.plan(records, NOW, 30, max_hosts_per_cycle=10, max_active_scans=3)
    assert [t['mac'] for t in free['targets']] == [C]


def test_nothing_to_do_gives_no_title():
    assert _decide.plan({A: present(A, X, last_scanned='2026-11-27T00:00:00Z')}, NOW, 30, 10, 1)['title'] is None


def test_run_stopped_after_intent_resumes_with_same_title_instead_of_new_plan():
    records = {A: present(A, X), B: present(B, Y)}
    _launch.record_intent(records, 'roamscan 2026-11-28T11:45:00Z', [{'identity': A, 'mac': A, 'ip': X}], {X: {A}}, '2026-11-28T11:45:00Z')
    # killed here; next run:
    again = _decide.plan(records, NOW, 30, max_hosts_per_cycle=10, max_active_scans=1)
    assert again['resumed'] and again['title'] == 'roamscan 2026-11-28T11:45:00Z'
    assert again['intended_at'] == '2026-11-28T11:45:00Z'  # what the launch's resume.since needs
    assert again['targets'] == [{'identity': A, 'mac': A, 'ip': X, 'overdue_since': '2026-11-28T11:00:00Z'}]
    # the intent keeps its launch time when re-recorded
    _launch.record_intent(records, again['title'], again['targets'], {X: {A}}, NOW)
    assert records[A]['pending']['launched_at'] == '2026-11-28T11:45:00Z'


def test_host_list_scan_counts_only_inside_own_holding():
    records = {A: present(A, X, since='2026-11-28T09:00:00Z'), B: present(B, Y, since='2026-11-28T09:00:00Z')}
    hosts = [
        {'ip': X, 'mac': A, 'last_scanned': '2026-11-28T09:30:00Z', 'source': 'qualys'},   # inside A's holding
        {'ip': Y, 'mac': B, 'last_scanned': '2026-11-28T08:30:00Z', 'source': 'qualys'},   # before B held Y
    ]
    changed, merged = _decide.credit_host_list(records, hosts, NOW)
    assert changed == {A} and merged == [{'identity': A, 'mac': A, 'ip': X, 'last_scanned': '2026-11-28T09:30:00Z'}]
    assert records[B]['last_scanned'] is None


def test_host_list_ignores_local_source_future_dates_and_older_scans():
    records = {A: present(A, X, since='2026-11-28T09:00:00Z', last_scanned='2026-11-28T09:45:00Z')}
    hosts = [{'ip': X, 'mac': A, 'last_scanned': '2026-11-28T09:50:00Z', 'source': 'local'},
             {'ip': X, 'mac': A, 'last_scanned': '2026-11-28T12:30:00Z', 'source': 'qualys'},
             {'ip': X, 'mac': A, 'last_scanned': '2026-11-28T09:30:00Z', 'source': 'qualys'}]
    assert _decide.credit_host_list(records, hosts, NOW) == (set(), [])


def test_host_list_date_counts_only_inside_the_open_holding_not_an_earlier_one():
    """The same rule as host_last_scanned: an earlier, closed holding of the same IP by this MAC is no proof."""
    record = present(A, X, since='2026-11-28T09:00:00Z')
    record['ip_history'] = [{'ip': X, 'from': '2026-11-27T08:00:00Z', 'to': '2026-11-27T10:00:00Z'}]
    hosts = [{'ip': X, 'mac': A, 'last_scanned': '2026-11-27T09:00:00Z', 'source': 'qualys'}]
    assert _decide.credit_host_list({A: record}, hosts, NOW) == (set(), [])


def test_host_list_date_after_the_last_evidence_of_the_holding_is_not_credited():
    record = present(A, X, since='2026-11-28T09:00:00Z', seen='2026-11-28T09:30:00Z')
    record['lease_expires'] = '2026-11-28T10:00:00Z'
    hosts = [{'ip': X, 'mac': A, 'last_scanned': '2026-11-28T10:30:00Z', 'source': 'qualys'},
             {'ip': Y, 'mac': A, 'last_scanned': '2026-11-28T09:40:00Z', 'source': 'qualys'}]   # not this laptop's IP
    assert _decide.credit_host_list({A: record}, hosts, NOW) == (set(), [])


def test_host_list_lookup_hosts_are_the_candidates_in_host_last_scanned_shape():
    records = {A: present(A, X, last_scanned='2026-10-01T00:00:00Z'), B: present(B, Y, last_scanned='2026-11-27T00:00:00Z')}
    assert _decide.host_list_hosts(records, NOW, 30) == [
        {'ip': X, 'mac': A, 'last_scanned': '2026-10-01T00:00:00Z', 'held_since': '2026-11-28T11:00:00Z'}]
