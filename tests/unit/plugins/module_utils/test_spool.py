# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crash-safe spool protocol (_spool.Spool), its lock and two readers at once, and the follower."""
from __future__ import annotations

import fcntl
import json
import multiprocessing
import os
import threading
import time

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._spool import Spool, SpoolError, SpoolFollower
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import (
    BootClock,
    format_spool_record,
    parse_spool_line,
)
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.spool_samples import hook_append

BOOT = 'ba9dc015-a0ea-493d-a762-4adb86d990c9'
BTIME = 1795840000
CLOCK = BootClock({BOOT: BTIME})


def record(n, kind='lease', server='kea', hostname=None, expires=None, boot=BOOT):
    return format_spool_record(server, kind, '02:77:00:00:0a:%02x' % n, '10.77.0.%d' % (100 + n),
                               hostname=hostname, expires=expires, boot_id=boot, uptime=100.0 + n, pid=4000 + n)


# ------------------------------------------------------------------ spool protocol
@pytest.fixture
def spool(tmp_path):
    return Spool(str(tmp_path), clock=CLOCK, ack_grace=0)


def test_read_ack_read_cycle(spool, tmp_path):
    hook_append(tmp_path, record(1), record(2))
    first, removed, changed = spool.collect()
    assert [e.mac for e in first.records] == ['02:77:00:00:0a:01', '02:77:00:00:0a:02']
    assert (removed, changed) == (0, False)
    hook_append(tmp_path, record(3))
    again = spool.collect()[0]  # not acknowledged yet: delivered again (at-least-once), plus the new one
    assert [e.id for e in again.records][:2] == [e.id for e in first.records] and len(again.records) == 3
    after_ack, removed, changed = spool.collect(ack=again.cursor)
    assert after_ack.records == [] and removed == 2 and changed
    assert sorted(os.listdir(tmp_path)) == ['lock', 'state.json']


def test_empty_spool_gives_cursor_that_acks_nothing(spool):
    batch = spool.collect()[0]
    assert batch.records == [] and batch.cursor.endswith(':')
    assert spool.collect(ack=batch.cursor)[0].records == []


def test_corrupt_and_torn_lines_are_counted_never_fatal_and_do_not_swallow_the_next_record(spool, tmp_path):
    with open(tmp_path / 'current', 'ab') as handle:
        handle.write(b'\n' + record(1).encode() + b'\ngarbage line\n')
        handle.write(b'\n' + record(2).encode()[:30])  # disk full: torn write, no newline
    hook_append(tmp_path, record(3))
    batch = spool.collect()[0]
    assert [e.mac for e in batch.records] == ['02:77:00:00:0a:01', '02:77:00:00:0a:03']
    assert batch.skipped == {'truncated': 1, 'unknown_version': 1}


def test_late_append_to_a_rotated_segment_is_delivered_not_lost(tmp_path):
    spool = Spool(str(tmp_path), clock=CLOCK, ack_grace=3600)
    hook_append(tmp_path, record(1))
    # a hook opened current just before lease_events renamed it, and writes after the read
    late_fd = os.open(os.path.join(tmp_path, 'current'), os.O_WRONLY | os.O_APPEND)
    first = spool.collect()[0]
    os.write(late_fd, ('\n' + record(2)).encode())
    os.close(late_fd)
    second, removed = spool.collect(ack=first.cursor)[:2]
    assert [e.mac for e in second.records] == ['02:77:00:00:0a:02'] and removed == 0
    third = spool.collect(ack=second.cursor)[0]
    assert third.records == []


def test_fully_acked_segment_is_kept_during_grace(tmp_path):
    spool = Spool(str(tmp_path), clock=CLOCK, ack_grace=3600)
    hook_append(tmp_path, record(1))
    batch = spool.collect()[0]
    removed, changed = spool.collect(ack=batch.cursor)[1:]
    assert removed == 0 and changed and 'seg.0000000001' in os.listdir(tmp_path)


def test_foreign_malformed_and_impossible_cursors_fail_and_remove_nothing(spool, tmp_path):
    hook_append(tmp_path, record(1))
    batch = spool.collect()[0]
    other = Spool(str(tmp_path / 'other'), clock=CLOCK)
    os.mkdir(other.path)
    with pytest.raises(SpoolError, match='belongs to spool'):
        other.collect(ack=batch.cursor)
    for bad in ('nonsense', 'rs1:zz:1.1', batch.cursor + ';rm'):
        with pytest.raises(SpoolError, match='malformed cursor'):
            spool.collect(ack=bad)
    beyond = batch.cursor.rsplit('.', 1)[0] + '.999999'
    with pytest.raises(SpoolError, match='beyond the end'):
        spool.collect(ack=beyond)
    assert [e.mac for e in spool.collect()[0].records] == ['02:77:00:00:0a:01']


def test_stale_ack_after_newer_ack_changes_nothing(spool, tmp_path):
    hook_append(tmp_path, record(1))
    old = spool.collect()[0]
    hook_append(tmp_path, record(2))
    new = spool.collect()[0]
    spool.collect(ack=new.cursor)
    hook_append(tmp_path, record(3))
    batch, removed, changed = spool.collect(ack=old.cursor)
    assert [e.mac for e in batch.records] == ['02:77:00:00:0a:03'] and not changed


def test_check_mode_changes_nothing_and_its_cursor_never_drops_current(spool, tmp_path):
    hook_append(tmp_path, record(1))
    spool.collect()  # creates state and seg 1
    hook_append(tmp_path, record(2))
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    batch = spool.collect(check_mode=True)[0]
    assert [e.mac for e in batch.records] == ['02:77:00:00:0a:01', '02:77:00:00:0a:02']
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    removed, changed = spool.collect(ack=batch.cursor, check_mode=True)[1:]
    assert removed == 1 and changed
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    after = spool.collect(ack=batch.cursor)[0]
    assert [e.mac for e in after.records] == ['02:77:00:00:0a:02']


def test_read_is_bounded_and_continues(tmp_path):
    spool = Spool(str(tmp_path), clock=CLOCK, ack_grace=0, max_records=3)
    hook_append(tmp_path, *[record(n) for n in range(1, 8)])
    seen = []
    cursor = None
    for _cycle in range(4):
        batch = spool.collect(ack=cursor)[0]
        seen += [e.mac for e in batch.records]
        cursor = batch.cursor
    assert seen == ['02:77:00:00:0a:%02x' % n for n in range(1, 8)]


def test_segment_numbers_never_repeat_after_everything_is_deleted(spool, tmp_path):
    hook_append(tmp_path, record(1))
    first = spool.collect()[0]
    spool.collect(ack=first.cursor)
    hook_append(tmp_path, record(2))
    second = spool.collect()[0]
    assert 'seg.0000000002' in os.listdir(tmp_path)
    spool.collect(ack=first.cursor)  # the old cursor must not acknowledge the new segment
    assert [e.mac for e in spool.collect()[0].records] == ['02:77:00:00:0a:02']
    assert second.cursor != first.cursor


def test_missing_spool_dir_is_a_clear_error(tmp_path):
    with pytest.raises(SpoolError, match='does not exist'):
        Spool(str(tmp_path / 'nope'), clock=CLOCK).collect()


# ------------------------------------------------------------------ the lock
def hold_lock(directory):
    """Take the spool lock through another open file description (as another reader would)."""
    fd = os.open(os.path.join(directory, 'lock'), os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd


def assert_unlocked(directory):
    """Nothing still holds the spool lock (a crashed or failed reader never leaves it taken)."""
    path = os.path.join(directory, 'lock')
    if os.path.exists(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises BlockingIOError if held
        finally:
            os.close(fd)


def test_a_reader_waits_for_the_other_reader_to_finish(spool, tmp_path):
    hook_append(tmp_path, record(1))
    fd = hold_lock(tmp_path)
    released = threading.Event()

    def release_later():
        time.sleep(0.3)
        released.set()
        os.close(fd)

    threading.Thread(target=release_later).start()
    batch = spool.collect()[0]
    assert released.is_set(), 'collect ran while another reader held the lock'
    assert [e.mac for e in batch.records] == ['02:77:00:00:0a:01']
    assert_unlocked(tmp_path)


def test_a_lock_held_too_long_is_a_clear_error_and_changes_nothing(tmp_path):
    hook_append(tmp_path, record(1))
    fd = hold_lock(tmp_path)
    try:
        with pytest.raises(SpoolError, match='stayed locked by another reader'):
            Spool(str(tmp_path), clock=CLOCK, lock_timeout=0.2).collect()
    finally:
        os.close(fd)
    assert sorted(os.listdir(tmp_path)) == ['current', 'lock']


def test_check_mode_on_a_spool_never_read_creates_no_lock_file(spool, tmp_path):
    hook_append(tmp_path, record(1))
    batch = spool.collect(check_mode=True)[0]
    assert [e.mac for e in batch.records] == ['02:77:00:00:0a:01'] and batch.cursor is None
    assert sorted(os.listdir(tmp_path)) == ['current']


# ------------------------------------------------------------------ two readers at the same moment
ROUNDS = 50


def unique_record(n):
    return format_spool_record('kea', 'lease', '02:77:00:01:%02x:%02x' % (n // 256, n % 256), '10.77.%d.%d' % (n // 200, 1 + n % 200),
                               boot_id=BOOT, uptime=float(n), pid=n)


class LoggedSpool(Spool):
    """A Spool that notes each ack and read in a shared log; both run under the spool lock, so the
    log's order is the order in which the readers held it."""

    def __init__(self, path, name, log):
        super().__init__(path, clock=CLOCK, ack_grace=0)
        self.name = name
        self.log = log

    def _note(self, entry):
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, (json.dumps(entry) + '\n').encode())
        finally:
            os.close(fd)

    def ack(self, cursor, state, check_mode=False):
        outcome = super().ack(cursor, state, check_mode=check_mode)
        self._note(['ack', self.name, cursor])
        return outcome

    def read(self, state, include_current=False):
        batch = super().read(state, include_current=include_current)
        self._note(['read', self.name, [r.id for r in batch.records], batch.cursor])
        return batch


def reader_process(name, directory, log, barrier, results):
    """A controller: each round read with its previous cursor as ack ('stored' = sent to the parent)."""
    spool = LoggedSpool(directory, name, log)
    cursor = None
    try:
        for _round in range(ROUNDS + 1):
            barrier.wait(timeout=60)
            batch = spool.collect(ack=cursor)[0]
            results.put((name, [r.id for r in batch.records]))
            cursor = batch.cursor
        spool.collect(ack=cursor, read_records=False)
        results.put((name, 'done'))
    except Exception as exc:  # pylint: disable=broad-except  # reported to the parent, which fails the test
        results.put((name, 'error: %r' % exc))


def hook_process(directory, barrier):
    """The DHCP server: records appear before and while the readers run."""
    for number in range(ROUNDS + 1):
        barrier.wait(timeout=60)
        if number < ROUNDS:
            for n in range(3):
                hook_append(directory, unique_record(number * 3 + n))


def test_two_readers_released_together_never_fail_lose_or_redeliver_acked_records(tmp_path):
    context = multiprocessing.get_context('fork')
    barrier = context.Barrier(3)
    results = context.Queue()
    log = str(tmp_path / 'order.log')
    spool_dir = tmp_path / 'spool'
    spool_dir.mkdir()
    processes = [context.Process(target=reader_process, args=(name, str(spool_dir), log, barrier, results))
                 for name in ('a', 'b')]
    processes.append(context.Process(target=hook_process, args=(str(spool_dir), barrier)))
    for process in processes:
        process.start()
    outcomes = {'a': [], 'b': []}
    deadline = time.monotonic() + 120
    while any(not outcomes[n] or outcomes[n][-1] != 'done' for n in outcomes):
        name, outcome = results.get(timeout=max(1, deadline - time.monotonic()))
        assert not str(outcome).startswith('error'), '%s: %s' % (name, outcome)
        outcomes[name].append(outcome)
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    written = {parse_spool_line(unique_record(n), clock=CLOCK).id for n in range(ROUNDS * 3)}
    delivered = set()
    for batches in outcomes.values():
        for batch in batches[:-1]:
            assert len(batch) == len(set(batch)), 'a record twice in one read'
            delivered |= set(batch)
    assert delivered == written, 'lost %d records' % len(written - delivered)
    # replay the lock order: once a reader's ack of a cursor succeeded, no read returns what it covered
    covered, acked = {}, set()
    for line in open(log):
        entry = json.loads(line)
        if entry[0] == 'read':
            assert not set(entry[2]) & acked, 'a read returned records acknowledged before it'
            covered.setdefault(entry[3], set()).update(entry[2])
        else:
            acked |= covered.get(entry[2], set())
    assert acked == written
    assert Spool(str(spool_dir), clock=CLOCK).collect()[0].records == []


# ------------------------------------------------------------------ crash at every step
class Crash(Exception):
    pass


# the file-system mutations of the protocol, and taking the spool lock
MUTATIONS = ((os, 'replace'), (os, 'rename'), (os, 'unlink'), (os, 'fsync'), (fcntl, 'flock'))


def run_with_crash_at(monkeypatch, crash_at, action):
    """Run action(); the crash_at-th mutation or lock call raises Crash (before it happens)."""
    counter = {'n': 0}

    def make(module, name):
        original = getattr(module, name)

        def wrapper(*args, **kwargs):
            counter['n'] += 1
            if counter['n'] == crash_at:
                raise Crash(name)
            return original(*args, **kwargs)
        return wrapper

    with monkeypatch.context() as patch:
        for module, name in MUTATIONS:
            patch.setattr(module, name, make(module, name))
        try:
            action()
            return counter['n'], False
        except Crash:
            return counter['n'], True


def controller_cycle(spool, state):
    """One scheduled run: read with the previous cursor as ack; 'store' the events."""
    acked_cursor = state['cursor']
    batch = spool.collect(ack=acked_cursor)[0]
    if acked_cursor is not None:
        state['acked'] |= state['in_flight']
    for event in batch.records:
        assert event.id not in state['acked'], 'delivered after it was acknowledged'
        state['delivered'].add(event.id)
    state['in_flight'] = {e.id for e in batch.records}
    state['cursor'] = batch.cursor


def test_crash_at_every_mutation_loses_nothing_and_never_redelivers_acked(tmp_path, monkeypatch):
    # count the mutations of a clean run of the scenario
    def scenario(spool, directory, state, step):
        hook_append(directory, record(step * 2 + 1), record(step * 2 + 2))
        controller_cycle(spool, state)

    probe_dir = tmp_path / 'probe'
    probe_dir.mkdir()
    probe = Spool(str(probe_dir), clock=CLOCK, ack_grace=0)
    probe_state = {'cursor': None, 'acked': set(), 'delivered': set(), 'in_flight': set()}
    total = run_with_crash_at(monkeypatch, 0, lambda: [scenario(probe, probe_dir, probe_state, s) for s in range(3)])[0]
    assert total >= 10

    for crash_at in range(1, total + 1):
        directory = tmp_path / ('run%d' % crash_at)
        directory.mkdir()
        spool = Spool(str(directory), clock=CLOCK, ack_grace=0)
        state = {'cursor': None, 'acked': set(), 'delivered': set(), 'in_flight': set()}
        written = set()
        crashed = False
        for step in range(3):
            written |= {parse_spool_line(record(step * 2 + n), clock=CLOCK).id for n in (1, 2)}
            if crashed:
                scenario(spool, directory, state, step)
                continue
            # the crashed run returns nothing: the controller keeps its previous cursor
            crashed = run_with_crash_at(monkeypatch, crash_at, lambda: scenario(spool, directory, state, step))[1]
        # drain without crashes: everything written is delivered; nothing acked comes back
        for _cycle in range(3):
            controller_cycle(spool, state)
        assert written <= state['delivered'], 'crash at mutation %d lost events' % crash_at
        assert_unlocked(directory)
        assert not any(name.endswith('.tmp') for name in os.listdir(directory) if not name.startswith('.'))


def test_follower_tails_current_across_rotation(spool, tmp_path):
    hook_append(tmp_path, record(1))
    follower = SpoolFollower(str(tmp_path), from_start=False, clock=CLOCK)
    assert follower.poll() == []  # starts at the end like tail -f
    hook_append(tmp_path, record(2))
    late_fd = os.open(os.path.join(tmp_path, 'current'), os.O_WRONLY | os.O_APPEND)
    spool.collect()  # lease_events rotates current away
    os.write(late_fd, ('\n' + record(3)).encode())
    os.close(late_fd)
    hook_append(tmp_path, record(4), 'rs1 torn')
    assert [e.mac[-2:] for e in follower.poll()] == ['02', '03', '04']
    hook_append(tmp_path, record(5))
    assert [e.mac[-2:] for e in follower.poll()] == ['05']
    assert follower.skipped == {'truncated': 1}
    follower.close()
