# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _launch, _remember
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, C, X, Y, NOW, report, lease, present


def test_intent_reverifies_against_fresh_lease_table():
    records = {A: present(A, X), B: present(B, Y)}
    holders = _remember.lease_holders([report(NOW, leases=[lease(A, X, '2026-11-28T13:00:00Z'), lease(C, Y, '2026-11-28T13:00:00Z')])])
    targets = [{'identity': A, 'mac': A, 'ip': X}, {'identity': B, 'mac': B, 'ip': Y}]
    changed, launch, dropped = _launch.record_intent(records, 'roamscan T', targets, holders, NOW)
    assert launch == [{'identity': A, 'mac': A, 'ip': X}] and [d['mac'] for d in dropped] == [B]
    assert records[A]['pending'] == {'scan_ref': None, 'ip': X, 'launched_at': NOW, 'title': 'roamscan T'}
    assert records[B]['pending'] is None and changed == {A}


def test_launch_records_refs_by_scan_targets_and_clears_the_rest():
    records = {A: present(A, X), B: present(B, Y)}
    holders = {X: {A}, Y: {B}}
    _launch.record_intent(records, 'roamscan T', [{'identity': A, 'mac': A, 'ip': X}, {'identity': B, 'mac': B, 'ip': Y}], holders, NOW)
    changed, recorded, missing = _launch.record_launch(records, 'roamscan T', [{'ref': 'scan/9.1', 'targets': ['10.77.0.90-10.77.0.100']}])
    assert recorded == [{'identity': A, 'mac': A, 'ip': X, 'scan_ref': 'scan/9.1'}] and missing == [{'identity': B, 'mac': B, 'ip': Y}]
    assert records[A]['pending']['scan_ref'] == 'scan/9.1' and records[B]['pending'] is None


def test_a_holding_any_server_shows_is_kept_and_one_another_server_contests_is_dropped():
    """Two DHCP servers (an HA pair): the lease on either is enough; the same IP active for another MAC on the other
    server is no proof for either MAC."""
    until = '2026-11-28T13:00:00Z'
    primary = dict(report(NOW, leases=[lease(A, X, until), lease(B, Y, until)]), server_name='dhcp1')
    standby = dict(report(NOW, leases=[lease(A, X, until), lease(C, Y, until)]), server_name='dhcp2')
    holders = _remember.lease_holders([primary, standby])
    assert holders == {X: {A}}
    assert _remember.lease_holders([standby]) == {X: {A}, Y: {C}}     # the primary down: the standby's table alone
    records = {A: present(A, X), B: present(B, Y)}
    targets = [{'identity': A, 'mac': A, 'ip': X}, {'identity': B, 'mac': B, 'ip': Y}]
    changed, launch, dropped = _launch.record_intent(records, 'roamscan T', targets, holders, NOW)
    assert launch == [targets[0]] and dropped == [dict(targets[1], reason='not_leased')]
