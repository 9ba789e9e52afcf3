# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _confirm, _decide, _launch, _record, _remember
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import (
    A, B, X, NOW, LAUNCHED, event, report, lease, folded, finished, present, pending_on)


def test_finished_processed_alive_and_held_is_credited():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', '2026-11-28T10:03:00Z', '00:20:00', scanned=[X])], NOW, 24)
    assert [c['mac'] for c in outcome['credited']] == [A] and changed == {A}
    assert records[A]['last_scanned'] == LAUNCHED and records[A]['last_scan_ref'] == 'scan/1.1'
    assert records[A]['pending'] is None
    assert not _record.is_overdue(records[A], NOW, 30)


@pytest.mark.parametrize('scan, reason', [
    (finished('scan/1.1', '2026-11-28T10:03:00Z', '00:20:00', not_scanned=[{'ip': X, 'reason': 'host not alive'}]), 'not alive'),
    (finished('scan/1.1', '2026-11-28T10:03:00Z', '00:01:00', state='Canceled'), 'Canceled'),
    (finished('scan/1.1', '2026-11-28T10:03:00Z', '00:01:00', state='Error'), 'Error'),
])
def test_dead_cancelled_or_errored_stays_overdue(scan, reason):
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = _confirm.confirm(records, [scan], NOW, 24)
    assert outcome['credited'] == [] and reason in outcome['not_credited'][0]['reason']
    assert records[A]['pending'] is None and records[A]['last_scanned'] is None
    assert [c['mac'] for c in _decide.candidates(records, NOW, 30)] == [A]


@pytest.mark.parametrize('scan', [
    finished('scan/1.1', '2026-11-28T10:03:00Z', None, scanned=[X], processed=False),
    {'ref': 'scan/1.1', 'state': 'Running', 'done': False, 'processed': False},
    {'ref': 'scan/1.1', 'state': 'Queued', 'done': False},
])
def test_unfinished_or_unprocessed_keeps_waiting(scan):
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = _confirm.confirm(records, [scan], NOW, 24)
    assert changed == set() and records[A]['pending']['scan_ref'] == 'scan/1.1'
    assert _decide.candidates(records, NOW, 30) == []


def test_pending_too_long_is_abandoned_with_reason():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z'))}
    changed, outcome = _confirm.confirm(records, [{'ref': 'scan/1.1', 'state': 'Running', 'done': False}], '2026-11-29T10:00:01Z', 24)
    assert [a['mac'] for a in outcome['abandoned']] == [A] and '24' in outcome['abandoned'][0]['reason']
    assert records[A]['pending'] is None


def test_ip_reuse_before_the_scan_never_credits_the_new_holder_as_the_old():
    """A leaves, B gets A's IP before the scan runs: B is not credited as A and A stays overdue."""
    records = folded(report('2026-11-28T09:50:00Z', leases=[lease(A, X, '2026-11-28T10:50:00Z')]))
    _launch.record_intent(records, 'roamscan T', [{'identity': A, 'mac': A, 'ip': X}], {X: {A}}, '2026-11-28T09:55:00Z')
    _launch.record_launch(records, 'roamscan T', [{'ref': 'scan/1.1', 'targets': [X]}])
    # A releases (the event is lost); B gets X; the scan runs and finds X alive (it is B)
    folded(report('2026-11-28T10:40:00Z', leases=[lease(B, X, '2026-11-28T11:40:00Z')]), records=records)
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', '2026-11-28T10:20:00Z', '00:10:00', scanned=[X])],
                                        '2026-11-28T10:40:00Z', 24)
    assert outcome['credited'] == [] and outcome['not_credited'][0]['mac'] == A
    assert records[A]['last_scanned'] is None and records[B]['last_scanned'] is None
    assert _record.is_overdue(records[A], '2026-11-28T10:40:00Z', 30)
    assert records[B]['pending'] is None


def test_release_before_the_finished_status_was_read_is_not_credited():
    """Qualys' launch + duration is no bound on when the IP was probed (queue time), so the holding must last
    until the scan was seen finished."""
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z', seen=LAUNCHED))}
    _remember.fold(records, [report(NOW, events=[event('release', A, X, '2026-11-28T10:45:00Z')])])
    assert records[A]['lease_state'] == 'released'
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', '2026-11-28T10:05:00Z', '00:30:00', scanned=[X])], NOW, 24)
    assert outcome['credited'] == [] and 'not proven' in outcome['not_credited'][0]['reason']


def test_lease_valid_past_the_status_read_credits_without_a_new_sighting():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z', seen=LAUNCHED))}
    records[A]['lease_expires'] = '2026-11-28T12:30:00Z'
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', '2026-11-28T10:05:00Z', '00:30:00', scanned=[X])], NOW, 24)
    assert [c['mac'] for c in outcome['credited']] == [A]


def test_scan_found_finished_after_the_lease_ran_out_is_not_credited():
    records = {A: pending_on(present(A, X, since='2026-11-28T09:00:00Z', seen=LAUNCHED))}
    records[A]['lease_expires'] = '2026-11-28T11:00:00Z'
    changed, outcome = _confirm.confirm(records, [finished('scan/1.1', '2026-11-28T10:05:00Z', '00:30:00', scanned=[X])], NOW, 24)
    assert outcome['credited'] == []
