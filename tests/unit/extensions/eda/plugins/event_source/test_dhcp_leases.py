# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dhcp_leases event source on a real spool directory, driven by an asyncio queue."""
from __future__ import annotations

import asyncio
import json
import logging
import os

import pytest

from ansible_collections.roamscan.qualys.extensions.eda.plugins.event_source.dhcp_leases import main
from ansible_collections.roamscan.qualys.plugins.module_utils._spool import Spool
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import format_spool_record

INTERVAL = 0.05


def append(spool_dir, *lines):
    """Append like the hook: one O_APPEND write per run."""
    fd = os.open(os.path.join(spool_dir, 'current'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, ''.join(lines).encode('ascii'))
    finally:
        os.close(fd)


def record(kind, n, hostname=None):
    return format_spool_record('kea', kind, '02:77:00:00:0a:%02x' % n, '10.77.0.%d' % n, hostname=hostname,
                               expires=2000000000)


async def run_source(spool_dir, actions, args=None):
    """Start the source, then for each action (a callable, or a float to wait) run it; returns events."""
    queue = asyncio.Queue()
    task = asyncio.create_task(main(queue, dict({'spool_dir': str(spool_dir), 'interval': INTERVAL}, **(args or {}))))
    await asyncio.sleep(INTERVAL * 4)
    for action in actions:
        if isinstance(action, float):
            await asyncio.sleep(action)
        else:
            action()
    await asyncio.sleep(INTERVAL * 6)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    events = []
    while not queue.empty():
        events.append(queue.get_nowait())
    return events


def macs(events):
    return [event['presence']['mac'] for event in events]


def test_emits_records_written_after_start_with_the_lease_events_fields(tmp_path):
    append(tmp_path, record('lease', 1))  # before the source started: left to the scheduled cycle
    events = asyncio.run(run_source(tmp_path, [lambda: append(tmp_path, record('lease', 2, hostname='lap-2'))]))
    assert len(events) == 1
    event = events[0]['presence']
    assert set(event) == {'id', 'time', 'server', 'kind', 'mac', 'ip', 'hostname', 'lease_expires'}
    assert (event['kind'], event['mac'], event['ip'], event['hostname'], event['server']) == \
        ('lease', '02:77:00:00:0a:02', '10.77.0.2', 'lap-2', 'kea')
    assert event['lease_expires'] == '2033-05-18T03:33:20Z'


def test_only_the_requested_kinds(tmp_path):
    events = asyncio.run(run_source(tmp_path, [
        lambda: append(tmp_path, record('renew', 1), record('release', 2), record('lease', 3), record('expire', 4))],
        {'kinds': ['lease']}))
    assert macs(events) == ['02:77:00:00:0a:03']


def test_follows_the_cycles_rotation_and_never_consumes_the_spool(tmp_path):
    lease_events = Spool(str(tmp_path), ack_grace=0)

    def rotate():
        batch, dummy, dummy = lease_events.collect()
        assert macs([{'presence': e.as_dict()} for e in batch.records]) == ['02:77:00:00:0a:01']

    events = asyncio.run(run_source(tmp_path, [
        lambda: append(tmp_path, record('lease', 1)), INTERVAL * 4, rotate,
        lambda: append(tmp_path, record('lease', 2)), INTERVAL * 4,
        lambda: lease_events.rotate(lease_events.load_state()), lambda: append(tmp_path, record('lease', 3))]))
    assert macs(events) == ['02:77:00:00:0a:01', '02:77:00:00:0a:02', '02:77:00:00:0a:03']
    # Nothing was acknowledged or removed behind the cycle's back: unacked events come again.
    state = json.loads((tmp_path / 'state.json').read_text())
    assert state['acked'] == {}
    batch, dummy, dummy = lease_events.collect()
    assert [e.mac[-2:] for e in batch.records] == ['01', '02', '03']


def test_corrupt_lines_are_skipped_with_a_warning_and_later_records_still_arrive(tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    events = asyncio.run(run_source(tmp_path, [
        lambda: append(tmp_path, 'rs1 garbage\n', 'rs1 - - 1 kea lease 02:77:00:00:0a:09 999.1.1.1 - - .\n',
                       'no newline yet'),
        lambda: append(tmp_path, '\n', record('lease', 5))]))
    assert macs(events) == ['02:77:00:00:0a:05']
    assert 'skipped 3 corrupt or partial spool line(s)' in caplog.text


def test_hostile_hostname_never_reaches_the_event(tmp_path):
    hostile = 'x;touch /tmp/pwned;$(id)'
    events = asyncio.run(run_source(tmp_path, [lambda: append(tmp_path, record('lease', 6, hostname=hostile))]))
    assert macs(events) == ['02:77:00:00:0a:06']
    assert events[0]['presence']['hostname'] is None
    assert hostile not in json.dumps(events)


@pytest.mark.parametrize('args, message', [
    ({'spool_dir': '/nonexistent/roamscan-spool'}, "spool_dir '/nonexistent/roamscan-spool' is not a directory"),
    ({'kinds': ['arrive']}, 'kinds must be a list of lease, renew, release, expire, decline'),
    ({'kinds': []}, 'kinds must be a list of'),
    ({'interval': 0}, 'interval must be a number of seconds above 0'),
    ({'interval': 'soon'}, 'interval must be a number of seconds above 0'),
    ({'spool': '/var/spool/roamscan'}, 'unknown argument(s) spool'),
])
def test_bad_arguments_fail_at_start_with_a_clear_message(tmp_path, args, message):
    full = dict({'spool_dir': str(tmp_path)}, **args)
    with pytest.raises(ValueError) as failure:
        asyncio.run(main(asyncio.Queue(), full))
    assert message in str(failure.value)
