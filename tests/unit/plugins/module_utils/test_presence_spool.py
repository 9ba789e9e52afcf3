# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Spool record parsing and the crash-safe spool protocol (presence.Spool)."""
from __future__ import annotations

import os

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils import presence
from ansible_collections.roamscan.qualys.plugins.module_utils.presence import (
    BootClock,
    CorruptRecord,
    Spool,
    SpoolError,
    SpoolFollower,
    format_spool_record,
    parse_spool_line,
)

BOOT = 'ba9dc015-a0ea-493d-a762-4adb86d990c9'
BTIME = 1795840000
CLOCK = BootClock({BOOT: BTIME})


def record(n, kind='lease', server='kea', hostname=None, expires=None, boot=BOOT):
    return format_spool_record(server, kind, '02:77:00:00:0a:%02x' % n, '10.77.0.%d' % (100 + n),
                               hostname=hostname, expires=expires, boot_id=boot, uptime=100.0 + n, pid=4000 + n)


# ------------------------------------------------------------------ parse_spool_line
def test_parse_record_written_by_dhcpd_hook():
    line = 'rs1 %s 432.76 8241 dhcpd lease 02:77:00:00:0a:01 10.77.0.100 pc-17 +30 .\n' % BOOT
    event = parse_spool_line(line, clock=CLOCK)
    assert event.as_dict() == {
        'id': event.id, 'time': '2026-11-28T04:33:52Z', 'server': 'dhcpd', 'kind': 'lease',
        'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': 'pc-17',
        'lease_expires': '2026-11-28T04:34:22Z'}
    assert len(event.id) == 20 and event.id == parse_spool_line(line.encode(), clock=CLOCK).id


def test_hex_hostname_is_kept_apart_and_never_returned_as_hostname():
    evil = 'x;touch /tmp/pwned;$(id)'
    line = record(1, hostname=evil)
    assert ';' not in line and '$' not in line
    event = parse_spool_line(line, clock=CLOCK)
    assert event.hostname is None
    assert bytes.fromhex(event.hostname_hex).decode() == evil


@pytest.mark.parametrize('expires, time_offset, kind', [
    (str(BTIME + 100), 101, 'expire'),
    (str(BTIME + 500), 101, 'release'),
    ('-', 101, 'release'),
])
def test_dnsmasq_gone_is_expire_at_lease_end_else_release(expires, time_offset, kind):
    line = 'rs1 %s %d.00 1 dnsmasq gone 02:77:00:00:0a:01 10.77.0.100 - %s .' % (BOOT, time_offset, expires)
    assert parse_spool_line(line, clock=CLOCK).kind == kind


def test_unknown_boot_uses_fallback_time_and_relative_expiry_follows_it():
    other = '00000000-0000-0000-0000-000000000001'
    line = 'rs1 %s 5.00 1 dhcpd lease 02:77:00:00:0a:01 10.77.0.100 - +60 .' % other
    event = parse_spool_line(line, clock=CLOCK, fallback_time=1795847000)
    assert event.time == '2026-11-28T06:23:20Z' and event.lease_expires == '2026-11-28T06:24:20Z'


@pytest.mark.parametrize('line, reason', [
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - 17' % BOOT, 'truncated'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.1' % BOOT, 'truncated'),
    ('rs2 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'unknown_version'),
    ('garbage', 'unknown_version'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a 10.77.0.100 - - .' % BOOT, 'bad_mac'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.300 - - .' % BOOT, 'bad_ip'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 a;b - .' % BOOT, 'bad_hostname'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 %%7 - .' % BOOT, 'bad_hostname'),
    ('rs1 %s 1.00 1 kea steal 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_kind'),
    ('rs1 %s 1.00 1 isc lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_server'),
    ('rs1 %s 1.00 x kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_pid'),
    ('rs1 nope 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .', 'bad_boot_id'),
    ('rs1 %s 1.0e3 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_uptime'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - 12x .' % BOOT, 'bad_expires'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 ' % BOOT + 'a' * 5000 + ' - .', 'too_long'),
])
def test_corrupt_lines_raise_with_reason(line, reason):
    with pytest.raises(CorruptRecord) as info:
        parse_spool_line(line, clock=CLOCK)
    assert info.value.reason == reason


def test_non_ascii_bytes_are_corrupt():
    with pytest.raises(CorruptRecord) as info:
        parse_spool_line(b'rs1 \xff', clock=CLOCK)
    assert info.value.reason == 'not_ascii'


# ------------------------------------------------------------------ spool protocol
def hook_append(spool_dir, *records):
    """What the hook does: one O_APPEND write, a leading newline, complete records."""
    fd = os.open(os.path.join(spool_dir, 'current'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, ('\n' + ''.join(records)).encode())
    finally:
        os.close(fd)


def ids(batch):
    return [(e.mac, e.kind) for e in batch.events]


@pytest.fixture
def spool(tmp_path):
    return Spool(str(tmp_path), clock=CLOCK, ack_grace=0)


def test_read_ack_read_cycle(spool, tmp_path):
    hook_append(tmp_path, record(1), record(2))
    first, removed, changed = spool.collect()
    assert [e.mac for e in first.events] == ['02:77:00:00:0a:01', '02:77:00:00:0a:02']
    assert (removed, changed) == (0, False)
    hook_append(tmp_path, record(3))
    again = spool.collect()[0]  # not acknowledged yet: delivered again (at-least-once), plus the new one
    assert [e.id for e in again.events][:2] == [e.id for e in first.events] and len(again.events) == 3
    after_ack, removed, changed = spool.collect(ack=again.cursor)
    assert after_ack.events == [] and removed == 2 and changed
    assert sorted(os.listdir(tmp_path)) == ['state.json']


def test_empty_spool_gives_cursor_that_acks_nothing(spool):
    batch = spool.collect()[0]
    assert batch.events == [] and batch.cursor.endswith(':')
    assert spool.collect(ack=batch.cursor)[0].events == []


def test_corrupt_and_torn_lines_are_counted_never_fatal_and_do_not_swallow_the_next_record(spool, tmp_path):
    with open(tmp_path / 'current', 'ab') as handle:
        handle.write(b'\n' + record(1).encode() + b'\ngarbage line\n')
        handle.write(b'\n' + record(2).encode()[:30])  # disk full: torn write, no newline
    hook_append(tmp_path, record(3))
    batch = spool.collect()[0]
    assert [e.mac for e in batch.events] == ['02:77:00:00:0a:01', '02:77:00:00:0a:03']
    assert batch.skipped_summary() == {'count': 2, 'reasons': {'truncated': 1, 'unknown_version': 1}}


def test_late_append_to_a_rotated_segment_is_delivered_not_lost(tmp_path):
    spool = Spool(str(tmp_path), clock=CLOCK, ack_grace=3600)
    hook_append(tmp_path, record(1))
    # a hook opened current just before lease_events renamed it, and writes after the read
    late_fd = os.open(os.path.join(tmp_path, 'current'), os.O_WRONLY | os.O_APPEND)
    first = spool.collect()[0]
    os.write(late_fd, ('\n' + record(2)).encode())
    os.close(late_fd)
    second, removed = spool.collect(ack=first.cursor)[:2]
    assert [e.mac for e in second.events] == ['02:77:00:00:0a:02'] and removed == 0
    third = spool.collect(ack=second.cursor)[0]
    assert third.events == []


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
    assert [e.mac for e in spool.collect()[0].events] == ['02:77:00:00:0a:01']


def test_stale_ack_after_newer_ack_changes_nothing(spool, tmp_path):
    hook_append(tmp_path, record(1))
    old = spool.collect()[0]
    hook_append(tmp_path, record(2))
    new = spool.collect()[0]
    spool.collect(ack=new.cursor)
    hook_append(tmp_path, record(3))
    batch, removed, changed = spool.collect(ack=old.cursor)
    assert [e.mac for e in batch.events] == ['02:77:00:00:0a:03'] and not changed


def test_check_mode_changes_nothing_and_its_cursor_never_drops_current(spool, tmp_path):
    hook_append(tmp_path, record(1))
    spool.collect()  # creates state and seg 1
    hook_append(tmp_path, record(2))
    before = {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)}
    batch = spool.collect(check_mode=True)[0]
    assert [e.mac for e in batch.events] == ['02:77:00:00:0a:01', '02:77:00:00:0a:02']
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    removed, changed = spool.collect(ack=batch.cursor, check_mode=True)[1:]
    assert removed == 1 and changed
    assert {name: (tmp_path / name).read_bytes() for name in os.listdir(tmp_path)} == before
    after = spool.collect(ack=batch.cursor)[0]
    assert [e.mac for e in after.events] == ['02:77:00:00:0a:02']


def test_read_is_bounded_and_continues(tmp_path):
    spool = Spool(str(tmp_path), clock=CLOCK, ack_grace=0, max_events=3)
    hook_append(tmp_path, *[record(n) for n in range(1, 8)])
    seen = []
    cursor = None
    for _cycle in range(4):
        batch = spool.collect(ack=cursor)[0]
        seen += [e.mac for e in batch.events]
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
    assert [e.mac for e in spool.collect()[0].events] == ['02:77:00:00:0a:02']
    assert second.cursor != first.cursor


def test_missing_spool_dir_is_a_clear_error(tmp_path):
    with pytest.raises(SpoolError, match='does not exist'):
        Spool(str(tmp_path / 'nope'), clock=CLOCK).collect()


# ------------------------------------------------------------------ crash at every step
class Crash(Exception):
    pass


MUTATIONS = ('replace', 'rename', 'unlink', 'fsync')


def run_with_crash_at(monkeypatch, crash_at, action):
    """Run action(); the crash_at-th file-system mutation raises Crash (before it happens)."""
    counter = {'n': 0}
    originals = {name: getattr(os, name) for name in MUTATIONS}

    def make(name):
        def wrapper(*args, **kwargs):
            counter['n'] += 1
            if counter['n'] == crash_at:
                raise Crash(name)
            return originals[name](*args, **kwargs)
        return wrapper

    with monkeypatch.context() as patch:
        for name in MUTATIONS:
            patch.setattr(presence.os, name, make(name))
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
    for event in batch.events:
        assert event.id not in state['acked'], 'delivered after it was acknowledged'
        state['delivered'].add(event.id)
    state['in_flight'] = {e.id for e in batch.events}
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
