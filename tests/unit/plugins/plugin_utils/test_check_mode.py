# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check mode's store: opened read-only it writes nothing (records, index, 0.1 moves), and a stage sees the records
the earlier stages would have written over the stored ones."""
from __future__ import annotations

import os

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _store
from ansible_collections.roamscan.qualys.plugins.plugin_utils._check_mode import WOULD_STORE, WouldBeStore, carried_records, would_do
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import new_record
from ansible_collections.roamscan.qualys.tests.support.legacy_records import legacy_write

A, B, C = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'


def record(mac, ip, state='active'):
    rec = new_record(mac, '2026-11-28T07:00:00Z')
    rec.update(ip=ip, held_since='2026-11-28T07:00:00Z', last_seen='2026-11-28T07:00:00Z', lease_state=state,
               lease_expires='2026-11-28T08:00:00Z')
    return rec


def tree(directory):
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory)) if (directory / name).is_file()}


def test_a_read_only_store_rebuilds_its_index_in_memory_and_writes_nothing(jsonfile):
    _store.open_store().save({A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101', 'released')}, {A, B})
    os.unlink(jsonfile / [name for name in os.listdir(jsonfile) if name.endswith('roamscan-store-index')][0])
    before = tree(jsonfile)
    store = _store.open_store(read_only=True)
    assert set(store.working_set()) == {A} and len(store.digests()) == 2
    assert store.index_state.startswith('rebuilt') and 'index not saved: read-only' in store.index_state
    with pytest.raises(_store.StoreWriteError, match='opened read-only'):
        store.save({A: record(A, '10.77.0.102')}, {A})
    with pytest.raises(_store.StoreWriteError, match='opened read-only'):
        store.write_entry('roamscan-history', {})
    assert tree(jsonfile) == before


def test_a_read_only_store_leaves_0_1_entries_where_they_are(jsonfile):
    legacy_write({A: record(A, '10.77.0.100')})
    before = tree(jsonfile)
    assert _store.open_store(read_only=True).working_set() == {}
    assert tree(jsonfile) == before
    assert set(_store.open_store().working_set()) == {A}    # the next cycle that may write moves them


def test_a_stage_sees_what_the_earlier_stages_would_have_written(jsonfile):
    _store.open_store().save({A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')}, {A, B})
    would = {B: record(B, '10.77.0.101', 'released'), C: record(C, '10.77.0.102')}
    store = WouldBeStore(_store.open_store(read_only=True), would)
    assert set(store.working_set()) == {A, C} and store.holders(['10.77.0.101', '10.77.0.102']) == {'10.77.0.102': C}
    assert store.get([B, C]) == would and set(store.all()) == {A, B, C}
    assert store.digests()[B]['lease_state'] == 'released'
    changed = store.get([A])
    changed[A]['ip'] = '10.77.0.109'
    assert store.carried(changed, {A}) == dict(would, **changed)
    assert store.get([C])[C] is not would[C]     # a stage changing what it got changes nothing carried


def test_the_latest_stage_result_carries_the_records():
    remembered, confirmed = {WOULD_STORE: {A: {'ip': '1'}}}, {WOULD_STORE: {A: {'ip': '2'}}}
    assert carried_records({'roamscan_remembered': remembered, 'roamscan_confirmed': confirmed})[A]['ip'] == '2'
    assert carried_records({'roamscan_remembered': remembered, 'roamscan_confirmed': {'skipped': True}})[A]['ip'] == '1'
    assert carried_records({}) == {}


def summary(**values):
    return dict({'credited': [], 'held': None, 'held_back_count': 0}, **values)


@pytest.mark.parametrize('results, values, sentence', [
    ({'launch': {'scans': [{'targets': ['10.20.0.11-10.20.0.12']}]}}, {}, 'would launch one scan of 10.20.0.11-10.20.0.12'),
    ({'launch': {'scans': [{'targets': ['10.20.0.1']}, {'targets': ['10.20.0.9', '10.20.0.11']}]}}, {},
     'would launch 2 scans: of 10.20.0.1; of 10.20.0.9,10.20.0.11'),
    ({}, {'held': '1 roamscan scan(s) still pending (max_active_scans=1): scan/1.1'},
     'would launch no scan: 1 roamscan scan(s) still pending (max_active_scans=1): scan/1.1'),
    ({'verify': {'launch': {'dropped': [{'mac': A, 'ip': '10.20.0.11', 'reason': 'not_leased'}]}}}, {},
     'would launch no scan: every target was dropped at verify (%s (10.20.0.11))' % A),
    ({'launch': {'skipped': True}}, {}, 'would launch no scan: no present laptop is due'),
    ({}, {'credited': [A, B]}, 'would credit 2 laptop(s) with a finished scan: %s, %s' % (A, B)),
    ({'remember': {'updated': 3}}, {}, 'would update 3 laptop record(s) from what the DHCP servers reported'),
])
def test_the_summary_says_what_would_be_done(results, values, sentence):
    said = would_do(summary(**values), results)
    assert sentence in said and said[-1] == 'check mode: nothing was stored or acknowledged, no scan was launched'
