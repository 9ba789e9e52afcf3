# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

import pytest

from ansible import constants as C

from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import new_record
from ansible_collections.roamscan.qualys.plugins.plugin_utils import laptop_store

A = '02:77:00:00:0a:01'
B = '02:77:00:00:0b:02'


@pytest.fixture
def jsonfile(tmp_path, monkeypatch):
    """The jsonfile fact cache configured the way ansible.cfg would (env), no expiry."""
    monkeypatch.setattr(C, 'CACHE_PLUGIN', 'jsonfile')
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_CONNECTION', str(tmp_path))
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_TIMEOUT', '0')
    monkeypatch.delenv('ANSIBLE_CACHE_PLUGIN_PREFIX', raising=False)
    return tmp_path


def record(mac, ip):
    rec = new_record(mac, '2026-11-28T07:00:00Z')
    rec.update(ip=ip, held_since='2026-11-28T07:00:00Z', last_seen='2026-11-28T07:00:00Z', lease_state='active',
               lease_expires='2026-11-28T08:00:00Z')
    return rec


def test_memory_cache_is_refused_with_what_to_set(monkeypatch):
    monkeypatch.setattr(C, 'CACHE_PLUGIN', 'memory')
    with pytest.raises(laptop_store.UnsafeFactCache, match='fact_caching_timeout = 0') as info:
        laptop_store.open_fact_cache()
    assert 'memory' in str(info.value)


def test_expiring_cache_is_refused_with_what_to_set(jsonfile, monkeypatch):
    monkeypatch.delenv('ANSIBLE_CACHE_PLUGIN_TIMEOUT')  # jsonfile's default: 86400 s
    with pytest.raises(laptop_store.UnsafeFactCache, match='expires entries after 86400 seconds.*Set fact_caching_timeout = 0'):
        laptop_store.open_fact_cache()


def test_inventory_may_read_an_expiring_cache(jsonfile, monkeypatch):
    monkeypatch.delenv('ANSIBLE_CACHE_PLUGIN_TIMEOUT')
    assert laptop_store.load_records(laptop_store.open_fact_cache(require_durable=False)) == ({}, {}, [])


def test_records_round_trip_keeping_other_facts(jsonfile):
    cache = laptop_store.open_fact_cache()
    cache.set('mac-027700000a01', {'owner': 'alice'})
    cache.set('dhcp1.example.net', {'ansible_distribution': 'Debian'})  # not a laptop: ignored
    records, facts, corrupt = laptop_store.load_records(cache)
    assert records == {} and corrupt == [] and facts == {A: {'owner': 'alice'}}
    records = {A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')}
    assert laptop_store.save_records(cache, records, facts, {A, B}) == 2

    fresh = laptop_store.open_fact_cache()
    loaded, facts, corrupt = laptop_store.load_records(fresh)
    assert loaded == records and corrupt == []
    assert facts[A]['owner'] == 'alice'
    assert fresh.get('mac-027700000a01')['roamscan']['ip'] == '10.77.0.100'


def test_written_through_the_plugin_api_not_by_hand(jsonfile):
    """Whatever this ansible-core's on-disk format is (2.19+: s1_<host> with __payload__), it is the plugin's."""
    cache = laptop_store.open_fact_cache()
    laptop_store.save_records(cache, {A: record(A, '10.77.0.100')}, {}, {A})
    names = os.listdir(jsonfile)
    assert len(names) == 1 and names[0].endswith('mac-027700000a01')


def test_corrupt_entries_are_reported_and_the_rest_loaded(jsonfile):
    cache = laptop_store.open_fact_cache()
    good = record(B, '10.77.0.101')
    laptop_store.save_records(cache, {B: good}, {}, {B})
    cache.set('mac-027700000a01', {'roamscan': {'schema': 99}})
    cache.set('mac-027700000c03', {'roamscan': dict(good, mac='02:77:00:00:0c:03', ip='300.1.1.1')})
    records, facts, corrupt = laptop_store.load_records(laptop_store.open_fact_cache())
    assert list(records) == [B]
    assert {item['host'] for item in corrupt} == {'mac-027700000a01', 'mac-027700000c03'}
    assert all('invalid roamscan record' in item['error'] for item in corrupt)


def test_unreadable_file_is_reported(jsonfile):
    cache = laptop_store.open_fact_cache()
    laptop_store.save_records(cache, {A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')}, {}, {A, B})
    victim = [name for name in os.listdir(jsonfile) if name.endswith('mac-027700000a01')][0]
    (jsonfile / victim).write_text('{"__payload__": "{\\"roamscan\\": {tru')   # torn write
    records, facts, corrupt = laptop_store.load_records(laptop_store.open_fact_cache())
    assert list(records) == [B]
    assert [item['host'] for item in corrupt] == ['mac-027700000a01']
    assert 'unreadable cache entry' in corrupt[0]['error']


def test_prefix_is_respected(jsonfile, monkeypatch):
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_PREFIX', 'site1_')
    cache = laptop_store.open_fact_cache()
    laptop_store.save_records(cache, {A: record(A, '10.77.0.100')}, {}, {A})
    assert all(name.startswith('site1_') for name in os.listdir(jsonfile))
    assert list(laptop_store.load_records(laptop_store.open_fact_cache())[0]) == [A]


@pytest.mark.parametrize('host, mac', [('mac-027700000a01', A), ('mac-027700000A01', None), ('localhost', None), ('mac-0277', None)])
def test_mac_from_host(host, mac):
    assert laptop_store.mac_from_host(host) == mac


def test_explicit_settings_replace_the_configured_cache(jsonfile, tmp_path, monkeypatch):
    monkeypatch.setattr(C, 'CACHE_PLUGIN', 'memory')   # what a bare controller would have
    own = tmp_path / 'roamscan-facts'
    settings = {'plugin': 'jsonfile', 'connection': str(own), 'timeout': 0, 'prefix': None}
    cache = laptop_store.open_fact_cache(settings=settings)
    laptop_store.save_records(cache, {A: record(A, '10.77.0.100')}, {}, {A})
    assert [name for name in os.listdir(own) if name.endswith('mac-027700000a01')]
    assert list(laptop_store.load_records(laptop_store.open_fact_cache(settings=settings))[0]) == [A]


def test_per_job_cache_of_ansible_runner_is_refused(jsonfile, monkeypatch):
    """ansible-runner / AWX set ANSIBLE_CACHE_PLUGIN_CONNECTION to <artifacts>/<job>/fact_cache."""
    job = jsonfile / 'artifacts' / 'job-7'
    monkeypatch.setenv('AWX_ISOLATED_DATA_DIR', str(job))
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_CONNECTION', str(job / 'fact_cache'))
    with pytest.raises(laptop_store.UnsafeFactCache, match="inside this job's artifacts directory.*roamscan_fact_cache"):
        laptop_store.open_fact_cache()
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_CONNECTION', str(jsonfile / 'durable'))
    assert laptop_store.open_fact_cache() is not None
