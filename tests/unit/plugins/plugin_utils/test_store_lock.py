# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cycle lease and fenced writes of a jsonfile laptop store, driven step by step with two store objects."""
from __future__ import annotations

import itertools
import json
import os

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _store, _store_lock
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import new_record

A = '02:77:00:00:0a:01'
B = '02:77:00:00:0b:02'


class Clock:
    def __init__(self, start=1_800_000_000.0):
        self.now = start

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(_store_lock, 'time', fake)
    return fake


def record(mac, ip, hostname=None):
    rec = new_record(mac, '2026-11-28T07:00:00Z')
    rec.update(ip=ip, hostname=hostname, lease_state='active', held_since='2026-11-28T07:00:00Z',
               last_seen='2026-11-28T07:00:00Z', lease_expires='2026-11-28T08:00:00Z')
    return rec


def entries(directory, host='mac-027700000a01'):
    """``{file name: content}`` of laptop ``host``'s cache entry (named by the cache plugin's key format)."""
    return {path.name: path.read_bytes() for path in directory.iterdir() if host in path.name}


def lease_file(directory):
    return json.loads((directory / '.roamscan-lock' / 'lease').read_text())


def test_second_cycle_finds_the_lease_held_and_learns_by_whom(jsonfile, clock):
    first = _store.open_store().take_lease(1800, 'awx')
    with pytest.raises(_store_lock.LockHeld, match=r'another cycle is running on \S+ \(pid %d\) since 2027-01-15T08:00:00Z'
                       % os.getpid()) as info:
        _store.open_store().take_lease(1800, 'cron')
    assert info.value.holder['token'] == first['token'] and info.value.holder['owner'] == 'awx'
    assert lease_file(jsonfile)['expires'] == clock.now + 1800


def test_released_lease_is_taken_at_once_with_a_larger_token(jsonfile, clock):
    store = _store.open_store()
    first = store.take_lease(1800, 'awx')
    assert store.release_lease(first) is True and store.release_lease(first) is False
    second = _store.open_store().take_lease(1800, 'awx')
    assert second['token'] == first['token'] + 1 and 'took_over' not in second   # that cycle ended: nothing to resume


def test_renewal_keeps_a_slow_cycle_ahead_of_its_expiry(jsonfile, clock):
    holding = _store.open_store().take_lease(60, 'awx')
    for dummy in range(5):            # five stages, each 50 s apart: longer than the lease, renewed each time
        clock.now += 50
        holding = _store.open_store().renew_lease(holding)
    with pytest.raises(_store_lock.LockHeld):
        _store.open_store().take_lease(60, 'cron')


def test_expired_lease_of_a_dead_cycle_is_taken_over_and_the_dead_one_writes_nothing(jsonfile, clock):
    dead = _store.open_store()
    holding = dead.take_lease(60, 'awx')
    dead.save({A: record(A, '10.77.0.100')}, [A])
    clock.now += 61                    # killed: never renewed, never released
    survivor = _store.open_store()
    taken = survivor.take_lease(60, 'cron')
    assert taken['token'] == holding['token'] + 1 and lease_file(jsonfile)['owner'] == 'cron'
    # the new holder learns whose unfinished cycle it resumes; the lease file does not keep it
    assert taken['took_over'] == {key: holding[key] for key in ('host', 'pid', 'since')} | {'expires': holding['since'] + 60}
    assert 'took_over' not in lease_file(jsonfile)

    stale = dead.get([A])[A]
    stale['hostname'] = 'from-the-dead'
    before = entries(jsonfile)
    assert len(before) == 1
    with pytest.raises(_store_lock.LockLost, match='lost its lease.*writes nothing'):
        dead.save({A: stale}, [A])
    with pytest.raises(_store_lock.LockLost):
        _store.open_store().renew_lease(holding)
    assert entries(jsonfile) == before
    assert _store.open_store().release_lease(holding) is False and lease_file(jsonfile)['held']


def test_a_lease_that_expired_unnoticed_stops_its_own_writes(jsonfile, clock):
    store = _store.open_store()
    store.take_lease(60, 'awx')
    clock.now += 61                    # nobody took it over, but this cycle can no longer be sure it is alone
    with pytest.raises(_store_lock.LockLost, match='expired'):
        store.save({A: record(A, '10.77.0.100')}, [A])
    assert entries(jsonfile) == {}
    store.renew_lease(None)             # a store without a lease (a report) still writes
    store.save({A: record(A, '10.77.0.100')}, [A])
    assert len(entries(jsonfile)) == 1


def writer(mac_field, value, log):
    """One writer's steps: open, read, change one field of A, save; on a refused (stale) save, again from a fresh read."""
    while True:
        store = _store.open_store()
        yield 'open'
        rec = store.get([A])[A]
        yield 'read'
        rec[mac_field] = value
        try:
            store.save({A: rec}, [A])
        except _store_lock.StaleRecord as exc:
            log.append(str(exc))
            yield 'refused'
            continue
        yield 'saved'
        return


def refused(order, who, other):
    steps = {name: [index for index, step in enumerate(order) if step == name] for name in (who, other)}
    return steps[who][1] < steps[other][2] < steps[who][2]


@pytest.mark.parametrize('order', sorted(set(itertools.permutations('111222'))))
def test_two_writers_interleaved_at_every_step_lose_no_update(jsonfile, order):
    _store.open_store().save({A: record(A, '10.77.0.100')}, [A])
    refusals = []
    writers = {'1': writer('hostname', 'from-one', refusals), '2': writer('dhcp_server', 'dhcp2', refusals)}
    done = set()
    for step in list(order) + ['1', '2'] * 4:      # the order given, then each to the end (retries included)
        if step in done:
            continue
        if next(writers[step], None) in ('saved', None):
            done.add(step)
    assert done == {'1', '2'}
    final = _store.open_store().get([A])[A]
    assert (final['hostname'], final['dhcp_server']) == ('from-one', 'dhcp2'), 'an update was lost'
    # refused exactly when the other writer saved between this one's read (its 2nd step) and its save (its 3rd)
    assert bool(refusals) == (refused(order, '1', '2') or refused(order, '2', '1'))
    assert all('changed by another writer' in text and 'mac-027700000a01' in text for text in refusals)


def test_a_record_created_by_another_writer_is_not_overwritten(jsonfile):
    late = _store.open_store()
    assert late.get([B]) == {}                     # read: no record yet
    _store.open_store().save({B: record(B, '10.77.0.101', 'first')}, [B])
    with pytest.raises(_store_lock.StaleRecord):
        late.save({B: record(B, '10.77.0.101', 'second')}, [B])
    assert _store.open_store().get([B])[B]['hostname'] == 'first'


def test_a_store_without_the_lease_counts_the_records_and_writes_no_index_while_a_cycle_holds_it(jsonfile, clock):
    running = _store.open_store()
    holding = running.take_lease(1800, 'awx')
    running.save({A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')}, [A, B])
    index = {path.name: path.stat().st_ino for path in jsonfile.iterdir() if 'roamscan-store' in path.name}
    (jsonfile / next(name for name in index if 'index' in name)).unlink()   # as if the running cycle had not written it yet
    skipped = _store.open_store()
    assert sorted(skipped.digests()) == [A, B]                               # counted from the records themselves
    assert 'index not saved' in skipped.index_state
    assert not [path for path in jsonfile.iterdir() if 'roamscan-store-index' in path.name]
    assert running.release_lease(holding)
