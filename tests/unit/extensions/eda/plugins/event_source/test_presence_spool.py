# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The presence_spool event source: observations of every source, from several spools at once."""
from __future__ import annotations

import asyncio
import os

import pytest

from ansible_collections.roamscan.qualys.extensions.eda.plugins.event_source.presence_spool import Batcher, main
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import format_spool_record

INTERVAL = 0.05


def append(spool_dir, *lines):
    fd = os.open(os.path.join(str(spool_dir), 'current'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        os.write(fd, ('\n' + ''.join(lines)).encode('ascii'))
    finally:
        os.close(fd)


async def collect(args, actions):
    return [event['presence'] for event in await collect_raw(args, actions)]


async def collect_raw(args, actions):
    """Every event the source put on its queue while ``actions`` wrote to the spools."""
    queue = asyncio.Queue()
    task = asyncio.create_task(main(queue, dict({'interval': INTERVAL}, **args)))
    await asyncio.sleep(INTERVAL * 4)
    for action in actions:
        action()
    await asyncio.sleep(INTERVAL * 10)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return [queue.get_nowait() for dummy in range(queue.qsize())]


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


async def collect_until(spool_dir, args, lines, count, timeout=120):
    """The first ``count`` events the source puts on its queue after ``lines`` were appended to ``spool_dir``.

    The source starts at the end of each spool, so it must be following before the lines are written: a marker
    connect is appended until the source reports one (however long it takes to start), then the lines go in."""
    queue = asyncio.Queue()
    task = asyncio.create_task(main(queue, dict({'interval': INTERVAL}, **args)))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            append(spool_dir, receiver('connect', 'marker', '10.8.0.254'))
            try:
                await asyncio.wait_for(queue.get(), 1)
                break
            except asyncio.TimeoutError:
                assert loop.time() < deadline, 'the event source never reported the marker'
        append(spool_dir, *lines)
        found = []
        while len(found) < count:   # markers appended while the source was starting are left out
            event = _without_marker(await asyncio.wait_for(queue.get(), timeout))
            if event is not None:
                found.append(event)
        return found
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task


def _without_marker(event):
    if 'presence_batch' in event:
        kept = [o for o in event['presence_batch']['observations'] if o['identity']['value'] != 'marker']
        return {'presence_batch': dict(event['presence_batch'], observations=kept)} if kept else None
    return None if event['presence']['identity']['value'] == 'marker' else event


def test_a_receiver_end_that_names_no_ip_is_an_end_event_with_ip_null_and_the_source_goes_on(tmp_path):
    events = asyncio.run(collect_until(tmp_path, {'spool_dirs': [str(tmp_path)]},
                                       [receiver('disconnect', 'carol', None), receiver('connect', 'dave', '10.8.0.8')], 2))
    assert [(e['presence']['event'], e['presence']['identity']['value'], e['presence']['ip']) for e in events] == [
        ('end', 'carol', None), ('start', 'dave', '10.8.0.8')]
    # the rulebook's batches take starts only: the IP-less end never opens one
    batches = asyncio.run(collect_until(tmp_path, {'spool_dirs': [str(tmp_path)], 'events': ['start'], 'batch_window': 0.1},
                                        [receiver('disconnect', 'carol', None), receiver('connect', 'erin', '10.8.0.9')], 1))
    assert [o['identity']['value'] for o in batches[0]['presence_batch']['observations']] == ['erin']


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


# -- burst batching ---------------------------------------------------------------------------------

def observed(kind, value, ip='10.8.0.5'):
    return {'identity': {'kind': kind, 'value': value}, 'ip': ip, 'event': 'start'}


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_burst_within_the_window_is_one_batch_and_no_arrival_waits_longer():
    clock = Clock()
    batcher = Batcher(60, 100, 0, clock=clock, wall=clock)
    for second, laptop in enumerate(['a', 'b', 'c']):
        clock.now = 1000.0 + second * 20
        assert batcher.add(observed('mac', laptop)) is None
    clock.now = 1059.0
    assert batcher.due() is None
    clock.now = 1060.0
    batch = batcher.due()['presence_batch']
    assert [item['identity']['value'] for item in batch['observations']] == ['a', 'b', 'c'] and batch['closed_by'] == 'window'
    assert batcher.due() is None


def test_a_full_batch_closes_at_once_and_the_next_arrival_opens_a_new_one():
    clock = Clock()
    batcher = Batcher(60, 2, 0, clock=clock, wall=clock)
    assert batcher.add(observed('mac', 'a')) is None
    full = batcher.add(observed('vpn_cert', 'laptop-7'))['presence_batch']
    assert full['closed_by'] == 'full' and len(full['observations']) == 2
    clock.now += 5
    assert batcher.add(observed('mac', 'c')) is None
    clock.now += 60
    assert [item['identity']['value'] for item in batcher.due()['presence_batch']['observations']] == ['c']


def test_an_identity_counts_once_per_batch_and_is_throttled_across_batches():
    clock = Clock()
    batcher = Batcher(10, 100, 900, clock=clock, wall=clock)
    batcher.add(observed('vpn_user', 'alice'))
    batcher.add(observed('vpn_user', 'alice', ip='10.8.0.9'))   # reconnect inside the window
    clock.now += 10
    assert len(batcher.due()['presence_batch']['observations']) == 1
    clock.now += 300
    assert batcher.add(observed('vpn_user', 'alice')) is None and batcher.due() is None   # flapping VPN: no new cycle
    clock.now += 900
    batcher.add(observed('vpn_user', 'alice'))
    clock.now += 10
    assert batcher.due()['presence_batch']['observations'][0]['identity']['value'] == 'alice'


def test_vpn_and_dhcp_spools_arriving_together_become_one_batch_event(tmp_path):
    dhcp, vpn = tmp_path / 'dhcp', tmp_path / 'vpn'
    dhcp.mkdir()
    vpn.mkdir()
    queue_events = asyncio.run(collect_raw({'spool_dirs': [str(dhcp), str(vpn)], 'events': ['start'], 'batch_window': '0.2'}, [
        lambda: append(vpn, format_spool_record('openvpn', 'connect', 'laptop-7', '10.8.0.6', id_kind='vpn_cert', version='rs2')),
        lambda: append(dhcp, format_spool_record('kea', 'lease', '02:77:00:00:0a:01', '10.77.0.1')),
    ]))
    assert len(queue_events) == 1
    batch = queue_events[0]['presence_batch']
    assert sorted((item['source']['kind'], item['identity']['kind']) for item in batch['observations']) == [
        ('kea', 'mac'), ('openvpn', 'vpn_cert')]


@pytest.mark.parametrize('args, message', [
    ({'batch_window': -1}, 'batch_window must be a number'),
    ({'batch_window': 60, 'batch_max': 0}, 'batch_max must be a whole number'),
    ({'once_within': 60}, 'once_within needs batch_window'),
    ({'batch_window': 'soon'}, 'batch_window must be a number'),
    ({'batch_window': True}, 'batch_window must be a number'),
])
def test_bad_batch_arguments(tmp_path, args, message):
    with pytest.raises(ValueError, match=message):
        asyncio.run(main(asyncio.Queue(), dict({'spool_dirs': [str(tmp_path)]}, **args)))
