# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptop store on a real redis-server (community.general.redis, the store several controllers share):
the index, records written behind its back by the previous release, a controller killed between writes, and
Redis going away and coming back in the middle of a cycle."""
from __future__ import annotations

import pytest

from redis_lab import RedisServer

from legacy_records import as_read, mac_of, sample_fleet, sample_pending, working_set_of

REDIS = 'community.general.redis'


@pytest.fixture
def redis_store(redis_server, store_driver):
    settings = {'plugin': REDIS, 'connection': redis_server.connection, 'timeout': 0}

    def run(*ops, kill_at_write=None):
        return store_driver({'settings': settings, 'ops': list(ops), 'kill_at_write': kill_at_write})
    return run


def test_redis_store_reads_the_working_set_from_the_index_alone(redis_store):
    records = sample_fleet(5, 3, 22)
    status, answer = redis_store({'op': 'legacy_write', 'records': records}, {'op': 'working_set'})
    assert status == 0 and answer['results'][1] == working_set_of(records) and answer['index_state'] == 'rebuilt: no index yet'
    status, answer = redis_store({'op': 'working_set'})
    assert status == 0 and answer['results'][0] == working_set_of(records) and answer['index_state'] == 'fresh'
    assert answer['records_read'] == []


def test_redis_records_written_behind_its_back_by_another_controller_are_found(redis_store):
    records = sample_fleet(5, 3, 22)
    redis_store({'op': 'legacy_write', 'records': records}, {'op': 'working_set'})   # 0.1 records, moved
    records[mac_of(20)]['pending'] = sample_pending(20, 'scan/9.9')
    records[mac_of(1)]['lease_state'] = 'released'
    status, answer = redis_store({'op': 'write_behind', 'records': {mac_of(20): records[mac_of(20)], mac_of(1): records[mac_of(1)]}},
                                 {'op': 'working_set'}, {'op': 'all'})
    assert status == 0 and answer['results'][1] == working_set_of(records) and answer['results'][2] == as_read(records)
    assert answer['index_state'] == 'repaired'


@pytest.mark.parametrize('kill_at_write', [1, 2], ids=['before-the-records', 'before-the-index'])
def test_redis_controller_killed_between_writes_loses_no_laptop(redis_store, kill_at_write):
    records = sample_fleet(5, 3, 22)
    redis_store({'op': 'legacy_write', 'records': records}, {'op': 'working_set'})
    launched = {mac_of(n): dict(records[mac_of(n)], pending=sample_pending(n, 'scan/2.%d' % n)) for n in (1, 2)}
    status, answer = redis_store({'op': 'save', 'records': launched}, kill_at_write=kill_at_write)
    assert status == -9
    if kill_at_write == 2:                            # the records' transaction completed
        records.update(launched)
    status, answer = redis_store({'op': 'working_set'}, {'op': 'all'})
    assert status == 0 and answer['index_state'] == ('repaired' if kill_at_write == 2 else 'fresh')
    assert answer['results'][1] == as_read(records)
    assert answer['results'][0] == working_set_of(records)


def test_redis_going_away_mid_cycle_is_a_store_error_and_the_next_cycle_recovers(redis_server, redis_store):
    records = sample_fleet(5, 3, 22)
    redis_store({'op': 'legacy_write', 'records': records}, {'op': 'working_set'})
    redis_server.stop()
    back = dict(as_read(records)[mac_of(12)], lease_state='active')   # a record as today's cycle writes it
    status, answer = redis_store({'op': 'save', 'records': {mac_of(12): back}})
    assert status == 3 and answer['error'] in ('StoreError', 'StoreWriteError')
    assert 'redis://127.0.0.1:%d/0' % redis_server.port in answer['message'] and 'Connection refused' in answer['message']
    redis_server.start()
    status, answer = redis_store({'op': 'all'}, {'op': 'save', 'records': {mac_of(12): back}}, {'op': 'working_set'})
    assert status == 0 and answer['results'][0] == as_read(records)
    records[mac_of(12)] = back
    assert answer['results'][2] == working_set_of(records)


def test_redis_password_never_appears_in_store_errors(tmp_path, store_driver):
    server = RedisServer(tmp_path, password='S3cret-redis-pw').start()
    try:
        wrong = '127.0.0.1:%d:0:not-the-password' % server.port
        status, answer = store_driver({'settings': {'plugin': REDIS, 'connection': wrong, 'timeout': 0}, 'ops': [{'op': 'working_set'}]})
        assert status == 3 and 'not-the-password' not in answer['message'] and 'redis://127.0.0.1:%d/0' % server.port in answer['message']
    finally:
        server.stop()
