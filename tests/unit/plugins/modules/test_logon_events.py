# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""logon_events' read/ack protocol over logs that Samba writes and logrotate rotates."""
from __future__ import annotations

import json
import os
import random
import shutil

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._log_cursor import CursorError
from ansible_collections.roamscan.qualys.plugins.modules.logon_events import collect

NOW = 1795849200


def line(n, account=None):
    """One Samba audit line for laptop ``n`` (its own account and IP), newline included."""
    record = {'timestamp': '2026-12-01T09:15:%02d.000000+0000' % (n % 60), 'type': 'Authentication',
              'Authentication': {'eventId': 4624, 'status': 'NT_STATUS_OK', 'remoteAddress': 'ipv4:10.77.0.%d:49152' % (100 + n),
                                 'serviceDescription': 'Kerberos KDC', 'clientAccount': account or 'PC%03d$@ROAM.TEST' % n,
                                 'becameAccount': account or 'PC%03d$' % n, 'becameDomain': 'ROAM', 'logonId': '%016x' % n}}
    return ('  %s\n' % json.dumps(record)).encode()


class Dc:
    """A log directory, the module's state file, and the module's read/ack calls."""

    def __init__(self, tmp_path):
        self.dir = tmp_path / 'log'
        self.dir.mkdir()
        (tmp_path / 'state').mkdir()
        self.log = str(self.dir / 'roamscan-auth.json')
        self.state = str(tmp_path / 'state' / 'logon_events.json')
        self.now = NOW

    def write(self, *numbers, raw=b'', name=None):
        with open(name or self.log, 'ab') as handle:
            handle.write(b''.join(line(n) for n in numbers) + raw)
        self.age(name or self.log, 0)

    def age(self, name, seconds):
        os.utime(name, (self.now - seconds, self.now - seconds))

    def rename_rotate(self, suffix='.1', age=60):
        """logrotate ``create`` / Samba ``max log size``: rename, the writer starts a new file."""
        os.rename(self.log, self.log + suffix)
        self.age(self.log + suffix, age)

    def copytruncate(self, age=60):
        """logrotate ``copytruncate``: copy to NAME.1, truncate the file in place."""
        shutil.copyfile(self.log, self.log + '.1')
        self.age(self.log + '.1', age)
        with open(self.log, 'r+b') as handle:
            handle.truncate(0)
        self.age(self.log, 0)

    def run(self, ack=None, check_mode=False, include_events=True, **extra):
        params = dict(paths=[self.log], state_file=self.state, ack=ack, include_events=include_events,
                      exclude_addresses=[], exclude_local_addresses=False, source_host='dc1', settle_seconds=30, max_events=20000)
        params.update(extra)
        return collect(params, check_mode, self.now)

    def read(self, **extra):
        result = self.run(**extra)
        return [int(o['identity']['value'][2:5]) for o in result['observations']], result

    def ack(self, cursor):
        return self.run(ack=cursor, include_events=False)


@pytest.fixture
def dc(tmp_path):
    return Dc(tmp_path)


def test_lines_are_delivered_until_acknowledged_and_never_after(dc):
    dc.write(1, 2)
    numbers, first = dc.read()
    assert numbers == [1, 2] and first['cursor'].startswith('lc1:')
    assert dc.read()[0] == [1, 2]  # not acknowledged: delivered again
    assert dc.ack(first['cursor'])['changed'] is True
    dc.write(3)
    numbers, second = dc.read()
    assert numbers == [3]
    assert dc.ack(first['cursor'])['changed'] is False  # an older cursor changes nothing
    dc.ack(second['cursor'])
    assert dc.read()[0] == []


def test_a_line_still_being_written_waits_for_its_newline(dc):
    dc.write(1, raw=line(2)[:40])
    numbers, result = dc.read()
    assert numbers == [1] and result['skipped_lines']['count'] == 0
    dc.ack(result['cursor'])
    dc.write(raw=line(2)[40:])
    assert dc.read()[0] == [2]


def test_rename_rotation_reads_the_old_file_to_its_end_then_the_new_one(dc):
    dc.write(1, 2)
    dc.ack(dc.read()[1]['cursor'])
    dc.write(3)
    dc.rename_rotate()
    dc.write(4, 5)
    numbers, result = dc.read()
    assert numbers == [3, 4, 5] and result['rotation_gaps'] == []
    dc.ack(result['cursor'])
    dc.write(6)
    assert dc.read()[0] == [6]


def test_rename_rotation_stays_in_the_old_file_while_the_dc_may_still_write_it(dc):
    dc.write(1)
    dc.ack(dc.read()[1]['cursor'])
    dc.rename_rotate(age=0)
    dc.write(2, name=dc.log + '.1')  # samba has not reopened its log yet
    dc.write(9)                      # something already writes the new file
    numbers, result = dc.read()
    assert numbers == [2]
    dc.ack(result['cursor'])
    dc.write(3, name=dc.log + '.1')
    dc.now += 31
    assert dc.read()[0] == [3, 9]


def test_a_rotation_before_the_first_acknowledgement_skips_nothing(dc):
    dc.write(1)
    assert dc.read()[0] == [1]
    dc.write(2)
    dc.rename_rotate()
    dc.write(3)
    assert dc.read()[0] == [1, 2, 3]


def test_an_older_rotated_file_next_to_a_new_log_is_neither_read_nor_a_gap(dc):
    dc.write(9, name=dc.log + '.1')
    dc.write(1)
    assert dc.read()[0] == [1]
    numbers, result = dc.read()
    assert numbers == [1] and result['rotation_gaps'] == []


def test_a_cursor_from_before_a_rotation_acknowledged_late_moves_nothing_back(dc):
    dc.write(1)
    stale = dc.read()[1]['cursor']
    dc.now += 10
    dc.write(2)
    dc.rename_rotate()
    dc.write(3)
    dc.now += 60
    fresh = dc.read()[1]['cursor']
    dc.ack(fresh)
    assert dc.ack(stale)['changed'] is False
    dc.write(4)
    assert dc.read()[0] == [4]


def test_samba_max_log_size_rotation_to_dot_old_is_followed(dc):
    dc.write(1)
    dc.ack(dc.read()[1]['cursor'])
    dc.write(2)
    dc.rename_rotate('.old')
    dc.write(3)
    assert dc.read()[0] == [2, 3]


def test_copytruncate_reads_the_rest_from_the_copy_then_the_truncated_file(dc):
    dc.write(1, 2)
    dc.ack(dc.read()[1]['cursor'])
    dc.write(3)
    dc.copytruncate()
    dc.write(4)
    numbers, result = dc.read()
    assert numbers == [3, 4]
    dc.ack(result['cursor'])
    dc.write(5)
    assert dc.read()[0] == [5]


def test_copytruncate_of_a_file_nothing_was_read_from_yet_loses_nothing(dc):
    dc.write()
    dc.ack(dc.read()[1]['cursor'])  # acknowledged position: offset 0 of an empty log
    dc.now += 100
    dc.write(1, 2)
    dc.copytruncate()
    dc.write(3)
    assert dc.read()[0] == [1, 2, 3]


def test_a_torn_last_line_in_a_settled_rotated_file_is_counted_and_nothing_after_it_is_lost(dc):
    dc.write(1)
    dc.ack(dc.read()[1]['cursor'])
    dc.write(2, raw=line(3)[:50])
    dc.rename_rotate()
    dc.write(4)
    numbers, result = dc.read()
    assert numbers == [2, 4]
    assert result['skipped_lines'] == {'count': 1, 'reasons': {'truncated': 1}}


def test_a_position_rotated_away_compressed_is_a_reported_gap_not_a_failure(dc):
    dc.write(1)
    dc.ack(dc.read()[1]['cursor'])
    dc.write(2)
    os.rename(dc.log, dc.log + '.1.gz')
    dc.write(3)
    numbers, result = dc.read()
    assert numbers == [3] and result['rotation_gaps'] == [dc.log]


def test_oversized_and_garbage_lines_are_counted_and_the_records_around_them_kept(dc):
    dc.write(1, raw=b'x' * 200000 + b'\n' + b'{"type": "Authentication", "Auth\n' + b'\x00\x00\x00' + line(2))
    numbers, result = dc.read()
    assert numbers == [1, 2]
    assert result['skipped_lines'] == {'count': 2, 'reasons': {'bad_json': 1, 'too_long': 1}}


def test_an_oversized_line_still_growing_is_neither_returned_nor_skipped_past(dc):
    dc.write(1, raw=b'y' * 100000)
    numbers, result = dc.read()
    assert numbers == [1] and result['skipped_lines']['count'] == 0
    dc.ack(result['cursor'])
    dc.write(2, raw=b'')
    with open(dc.log, 'ab') as handle:
        handle.write(b'\n')
    dc.write(3)
    numbers, result = dc.read()
    assert numbers == [3] and result['skipped_lines']['reasons'] == {'too_long': 1}


def test_max_events_stops_the_cursor_where_reading_stopped(dc):
    dc.write(*range(1, 8))
    numbers, result = dc.read(max_events=3)
    assert numbers == [1, 2, 3]
    dc.ack(result['cursor'])
    assert dc.read(max_events=3)[0] == [4, 5, 6]


def test_check_mode_creates_and_changes_nothing(dc):
    dc.write(1)
    numbers, result = dc.read(check_mode=True)
    assert numbers == [1] and result['cursor'] is None and not os.path.exists(dc.state)
    cursor = dc.read()[1]['cursor']
    before = open(dc.state).read()
    assert dc.run(ack=cursor, include_events=False, check_mode=True)['changed'] is True
    assert open(dc.state).read() == before
    assert dc.read()[0] == [1]


@pytest.mark.parametrize('cursor, message', [
    ('rs1:0123456789abcdef:1.2', 'malformed cursor'),
    ('lc1:0123456789abcdef:', 'another logon_events state'),
    ('lc1:%(id)s:zz', 'malformed cursor entry'),
    ('lc1:%(id)s:00000000.1.2.3.4.0123456789abcdef.5', 'not in paths'),
])
def test_foreign_or_malformed_cursors_fail_and_change_nothing(dc, cursor, message):
    dc.write(1)
    dc.read()
    state_id = json.load(open(dc.state))['state_id']
    before = open(dc.state).read()
    with pytest.raises(CursorError, match=message):
        dc.ack(cursor % {'id': state_id})
    assert open(dc.state).read() == before


def test_a_corrupt_state_file_fails_clearly(dc):
    with open(dc.state, 'w') as handle:
        handle.write('{"state_id": "nope"}')
    with pytest.raises(CursorError, match='not a logon_events state file'):
        dc.read()


def test_missing_state_directory_fails_with_a_hint(dc, tmp_path):
    with pytest.raises(CursorError, match='dc_audit role'):
        dc.run(state_file=str(tmp_path / 'nowhere' / 'state.json'))


def test_several_logs_share_one_state_and_one_cursor(dc):
    other = str(dc.dir / 'windows-dc.json')
    dc.write(1)
    dc.write(2, name=other)
    numbers, result = dc.read(paths=[dc.log, other])
    assert sorted(numbers) == [1, 2]
    dc.run(ack=result['cursor'], include_events=False, paths=[dc.log, other])
    dc.write(3, name=other)
    assert dc.read(paths=[dc.log, other])[0] == [3]


def test_infrastructure_addresses_and_this_hosts_own_are_counted_as_ignored(dc):
    dc.write(1, 2)
    numbers, result = dc.read(exclude_addresses=['10.77.0.101/32'])
    assert numbers == [2]
    assert result['ignored'] == {'count': 1, 'reasons': {'infrastructure': 1}}


@pytest.mark.parametrize('seed', range(1, 9))
def test_seeded_rotation_fuzz_delivers_every_record_and_no_acknowledged_one_again(dc, seed):
    """Random writes, rename rotations and copytruncates (logrotate-style generations .1, .2, ...
    shifted by rename, copies keep the log's mtime), reads and acks: every record comes at least
    once, and none that was acknowledged comes again."""
    rng = random.Random(seed)
    written, acked, pending = [], set(), None
    generations = 0

    def shift():
        for number in range(generations, 0, -1):
            os.rename('%s.%d' % (dc.log, number), '%s.%d' % (dc.log, number + 1))

    dc.write()
    dc.read()  # the reader knows the log from here on (what was rotated away before is out of its reach)
    for _step in range(60):
        dc.now += rng.randint(1, 20)
        choice = rng.random()
        if choice < 0.45:
            numbers = [len(written) + i for i in range(1, rng.randint(1, 4) + 1)]
            dc.write(*numbers)
            written.extend(numbers)
        elif choice < 0.6:
            shift()
            os.rename(dc.log, dc.log + '.1')
            dc.write()
            generations += 1
        elif choice < 0.75:
            shift()
            shutil.copy2(dc.log, dc.log + '.1')
            with open(dc.log, 'r+b') as handle:
                handle.truncate(0)
            dc.age(dc.log, 0)
            generations += 1
        else:
            numbers, result = dc.read()
            assert not acked & set(numbers), 'acknowledged records delivered again'
            if pending is not None and rng.random() < 0.7:
                dc.ack(pending[1])
                acked |= set(pending[0])
            pending = (numbers, result['cursor'])
    delivered = set(acked)
    for _drain in range(generations + 3):
        dc.now += 100
        numbers, result = dc.read()
        assert not acked & set(numbers)
        delivered |= set(numbers)
        dc.ack(result['cursor'])
        acked |= set(numbers)
    assert delivered == set(written)
    assert result['rotation_gaps'] == [] and result['skipped_lines']['count'] == 0
