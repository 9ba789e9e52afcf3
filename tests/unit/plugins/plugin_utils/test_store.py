# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os

import pytest

from ansible import constants as C

from ansible_collections.roamscan.qualys.plugins.module_utils import planner
from ansible_collections.roamscan.qualys.plugins.plugin_utils import _store
from ansible_collections.roamscan.qualys.tests.support.legacy_records import legacy_cache, legacy_write

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
    rec = planner.new_record(mac, '2026-11-28T07:00:00Z')
    rec.update(ip=ip, held_since='2026-11-28T07:00:00Z', last_seen='2026-11-28T07:00:00Z', lease_state='active',
               lease_expires='2026-11-28T08:00:00Z')
    return rec


def laptop_files(directory):
    return sorted(name for name in os.listdir(directory) if 'mac-' in name)


def test_memory_cache_is_refused_with_what_to_set(monkeypatch):
    monkeypatch.setattr(C, 'CACHE_PLUGIN', 'memory')
    with pytest.raises(_store.UnsafeFactCache, match='fact_caching_timeout = 0') as info:
        _store.open_store()
    assert 'memory' in str(info.value)


def test_expiring_cache_is_refused_with_what_to_set(jsonfile, monkeypatch):
    monkeypatch.delenv('ANSIBLE_CACHE_PLUGIN_TIMEOUT')  # jsonfile's default: 86400 s
    with pytest.raises(_store.UnsafeFactCache, match='expires entries after 86400 seconds.*Set fact_caching_timeout = 0'):
        _store.open_store()


def test_inventory_may_read_an_expiring_cache(jsonfile, monkeypatch):
    monkeypatch.delenv('ANSIBLE_CACHE_PLUGIN_TIMEOUT')
    store = _store.open_store(require_durable=False)
    assert store.all() == {} and store.corrupt == []


def test_records_round_trip_keeping_other_facts(jsonfile):
    cache = legacy_cache()
    cache.set('mac-027700000a01', {'owner': 'alice'})
    cache.set('dhcp1.example.net', {'ansible_distribution': 'Debian'})  # not a laptop: ignored
    store = _store.open_store()
    assert store.all() == {} and store.corrupt == []
    records = {A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')}
    assert store.save(records, {A, B}) == 2

    fresh = _store.open_store()
    assert fresh.all() == records and fresh.corrupt == []
    stored = legacy_cache().get('mac-027700000a01')
    assert stored['owner'] == 'alice' and stored['roamscan']['ip'] == '10.77.0.100'


def test_records_written_by_the_previous_release_are_read_unchanged(jsonfile):
    records = {A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')}
    legacy_write(records, facts={A: {'owner': 'alice'}})
    store = _store.open_store()
    assert store.get([A, B, '02:77:00:00:0c:03']) == records
    assert store.working_set() == records


def test_written_through_the_plugin_format_not_by_hand(jsonfile):
    """Whatever this ansible-core's on-disk format is (2.19+: s1_<host> with __payload__), it is the plugin's."""
    _store.open_store().save({A: record(A, '10.77.0.100')}, {A})
    assert len(laptop_files(jsonfile)) == 1 and laptop_files(jsonfile)[0].endswith('mac-027700000a01')
    assert legacy_cache().get('mac-027700000a01')['roamscan'] == record(A, '10.77.0.100')


def test_corrupt_entries_are_reported_and_the_rest_loaded(jsonfile):
    good = record(B, '10.77.0.101')
    legacy_write({B: good})
    cache = legacy_cache()
    cache.set('mac-027700000a01', {'roamscan': {'schema': 99}})
    cache.set('mac-027700000c03', {'roamscan': dict(good, mac='02:77:00:00:0c:03', ip='300.1.1.1')})
    store = _store.open_store()
    assert list(store.all()) == [B]
    assert {item['host'] for item in store.corrupt} == {'mac-027700000a01', 'mac-027700000c03'}
    assert all('invalid roamscan record' in item['error'] for item in store.corrupt)


def test_corrupt_entry_is_never_overwritten(jsonfile):
    legacy_cache().set('mac-027700000a01', {'roamscan': {'schema': 99}})
    store = _store.open_store()
    store.all()
    with pytest.raises(_store.StoreWriteError, match='mac-027700000a01'):
        store.save({A: record(A, '10.77.0.100')}, {A})
    assert legacy_cache().get('mac-027700000a01') == {'roamscan': {'schema': 99}}


def test_unreadable_file_is_reported(jsonfile):
    legacy_write({A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')})
    victim = [name for name in laptop_files(jsonfile) if name.endswith('mac-027700000a01')][0]
    (jsonfile / victim).write_text('{"__payload__": "{\\"roamscan\\": {tru')   # torn write
    store = _store.open_store()
    assert list(store.all()) == [B]
    assert [item['host'] for item in store.corrupt] == ['mac-027700000a01']
    assert 'unreadable cache entry' in store.corrupt[0]['error']


def test_prefix_is_respected(jsonfile, monkeypatch):
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_PREFIX', 'site1_')
    _store.open_store().save({A: record(A, '10.77.0.100')}, {A})
    assert all(name.startswith('site1_') for name in os.listdir(jsonfile))
    assert list(_store.open_store().all()) == [A]


def test_explicit_settings_replace_the_configured_cache(jsonfile, tmp_path, monkeypatch):
    monkeypatch.setattr(C, 'CACHE_PLUGIN', 'memory')   # what a bare controller would have
    own = tmp_path / 'roamscan-facts'
    settings = {'plugin': 'jsonfile', 'connection': str(own), 'timeout': 0, 'prefix': None}
    _store.open_store(settings=settings).save({A: record(A, '10.77.0.100')}, {A})
    assert laptop_files(own)
    assert list(_store.open_store(settings=settings).all()) == [A]


def test_per_job_cache_of_ansible_runner_is_refused(jsonfile, monkeypatch):
    """ansible-runner / AWX set ANSIBLE_CACHE_PLUGIN_CONNECTION to <artifacts>/<job>/fact_cache."""
    job = jsonfile / 'artifacts' / 'job-7'
    monkeypatch.setenv('AWX_ISOLATED_DATA_DIR', str(job))
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_CONNECTION', str(job / 'fact_cache'))
    with pytest.raises(_store.UnsafeFactCache, match="inside this job's artifacts directory.*roamscan_fact_cache"):
        _store.open_store()
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_CONNECTION', str(jsonfile / 'durable'))
    assert _store.open_store() is not None


def test_working_set_and_holders_are_the_open_holdings_and_pending(jsonfile):
    away = dict(record(B, '10.77.0.101'), lease_state='expired')
    pending = dict(record('02:77:00:00:0c:03', '10.77.0.102'), lease_state='released',
                   pending={'scan_ref': 'scan/1.1', 'ip': '10.77.0.102', 'launched_at': '2026-11-28T07:30:00Z', 'title': 't'})
    here = record(A, '10.77.0.100')
    legacy_write({A: here, B: away, pending['mac']: pending})
    store = _store.open_store()
    assert store.working_set() == {A: here, pending['mac']: pending}
    assert store.holders(['10.77.0.100', '10.77.0.101', '10.77.0.102']) == {'10.77.0.100': A}
