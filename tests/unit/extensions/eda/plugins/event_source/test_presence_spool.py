# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The presence_spool event source: observations of every source, from several spools at once."""
from __future__ import annotations

import asyncio
import os

import pytest

from ansible_collections.roamscan.qualys.extensions.eda.plugins.event_source.presence_spool import main
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import format_spool_record

INTERVAL = 0.05


def append(spool_dir, *lines):
    fd = os.open(os.path.join(str(spool_dir), 'current'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, ('\n' + ''.join(lines)).encode('ascii'))
    finally:
        os.close(fd)


async def collect(args, actions):
    queue = asyncio.Queue()
    task = asyncio.create_task(main(queue, dict({'interval': INTERVAL}, **args)))
    await asyncio.sleep(INTERVAL * 4)
    for action in actions:
        action()
    await asyncio.sleep(INTERVAL * 6)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return [queue.get_nowait()['presence'] for dummy in range(queue.qsize())]


def receiver(kind, user, ip):
    return format_spool_record('receiver', kind, user, ip, id_kind='vpn_user', aliases={'eid': 'a' * 24}, version='rs2')


def test_receiver_and_dhcp_spools_as_observations(tmp_path):
    dhcp, collector = tmp_path / 'dhcp', tmp_path / 'receiver'
    dhcp.mkdir()
    collector.mkdir()
    events = asyncio.run(collect({'spool_dirs': [str(dhcp), str(collector)]}, [
        lambda: append(collector, receiver('connect', 'alice', '10.8.0.5'), receiver('disconnect', 'bob', '10.8.0.6')),
        lambda: append(dhcp, format_spool_record('kea', 'lease', '02:77:00:00:0a:01', '10.77.0.1')),
    ]))
    assert sorted((e['source']['kind'], e['event'], e['identity'], e['ip'], e['authority']) for e in events) == [
        ('kea', 'start', {'kind': 'mac', 'value': '02:77:00:00:0a:01'}, '10.77.0.1', 'table'),
        ('receiver', 'end', {'kind': 'vpn_user', 'value': 'bob'}, '10.8.0.6', 'log'),
        ('receiver', 'start', {'kind': 'vpn_user', 'value': 'alice'}, '10.8.0.5', 'log'),
    ]


def test_sources_and_events_filter(tmp_path):
    events = asyncio.run(collect({'spool_dirs': str(tmp_path), 'sources': ['receiver'], 'events': ['start']}, [
        lambda: append(tmp_path, receiver('connect', 'alice', '10.8.0.5'), receiver('seen', 'carol', '10.8.0.7'),
                       format_spool_record('kea', 'lease', '02:77:00:00:0a:01', '10.77.0.1')),
    ]))
    assert [e['identity']['value'] for e in events] == ['alice']


@pytest.mark.parametrize('args, message', [
    ({'spool_dirs': ['/nonexistent/roamscan']}, 'is not a directory'),
    ({'events': ['arrive']}, 'events must be a list of start, seen, end'),
    ({'sources': ['splunk']}, 'sources must be a list of'),
    ({'interval': 0}, 'interval must be'),
    ({'spool_dir': '/tmp'}, 'unknown argument'),
])
def test_bad_arguments(tmp_path, args, message):
    with pytest.raises(ValueError, match=message):
        asyncio.run(main(asyncio.Queue(), dict({'spool_dirs': [str(tmp_path)]}, **args)))
