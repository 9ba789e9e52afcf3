# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import os
import shutil

import pytest

from ansible import constants as C

from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import new_record
from ansible_collections.roamscan.qualys.plugins.plugin_utils._summary import counts
from ansible_collections.roamscan.qualys.plugins.plugin_utils import _store
from ansible_collections.roamscan.qualys.tests.support.legacy_records import (
    as_read,
    legacy_cache,
    legacy_write,
    mac_of,
    write_behind,
    sample_fleet as fleet,
    working_set_of as working,
)

A = '02:77:00:00:0a:01'
B = '02:77:00:00:0b:02'
LOCK = '.roamscan-lock'   # the store's cycle lock (tests/unit/plugins/plugin_utils/test_store_lock.py)


def record(mac, ip):
    rec = new_record(mac, '2026-11-28T07:00:00Z')
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
    assert legacy_cache().get('roamscan-id-mac-027700000a01') == {'roamscan': records[A]}
    assert legacy_cache().get('mac-027700000a01') == {'owner': 'alice'}   # the inventory host's own facts


def test_records_written_by_the_previous_release_are_read_unchanged(jsonfile):
    records = {A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')}
    legacy_write(records, facts={A: {'owner': 'alice'}})
    store = _store.open_store()
    assert store.get([A, B, '02:77:00:00:0c:03']) == records
    assert store.working_set() == records


def test_written_through_the_plugin_format_not_by_hand(jsonfile):
    """Whatever this ansible-core's on-disk format is (2.19+: s1_<host> with __payload__), it is the plugin's."""
    _store.open_store().save({A: record(A, '10.77.0.100')}, {A})
    assert len(laptop_files(jsonfile)) == 1 and laptop_files(jsonfile)[0].endswith('roamscan-id-mac-027700000a01')
    assert legacy_cache().get('roamscan-id-mac-027700000a01')['roamscan'] == record(A, '10.77.0.100')


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


def test_cache_folder_on_a_read_only_file_system_is_named_as_such(jsonfile, monkeypatch):
    # what a read-only remount looks like from here (the real one: tests/e2e/test_scan_cycle_store_faults.py)
    real_statvfs = os.statvfs
    monkeypatch.setattr(os, 'access', lambda path, mode, **kwargs: False)
    monkeypatch.setattr(os, 'statvfs', lambda path: type('Info', (), {'f_flag': real_statvfs(path).f_flag | os.ST_RDONLY}))
    with pytest.raises(_store.StoreError, match=r'could not be opened: .*\(%s is on a read-only file system\)$' % jsonfile):
        _store.open_store({'plugin': 'jsonfile', 'connection': str(jsonfile), 'timeout': 0})


def test_prefix_is_respected(jsonfile, monkeypatch):
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_PREFIX', 'site1_')
    _store.open_store().save({A: record(A, '10.77.0.100')}, {A})
    # the records and the index carry the prefix; the store's cycle lock is a hidden directory of that prefix
    assert all(name.startswith('site1_') for name in os.listdir(jsonfile) if name != '.site1_roamscan-lock')
    assert (jsonfile / '.site1_roamscan-lock' / 'guard').is_file()
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


def test_linking_finds_every_record_linked_to_an_identity_held_now_or_not(jsonfile):
    link = {'identity': 'ad_machine:LAPTOP01$', 'kind': 'authenticated', 'since': '2026-11-28T07:10:00Z', 'evidence': {}}
    office = dict(record(A, '10.77.0.100'), lease_state='released', links=[link])
    tunnel = dict(record('vpn_cert:laptop-01', '10.88.0.2'), lease_state='expired', links=[link])   # a key the index cannot reverse
    other = dict(record(B, '10.77.0.101'), links=[dict(link, identity='ad_machine:LAPTOP02$')])
    _store.open_store().save({A: office, 'vpn_cert:laptop-01': tunnel, B: other}, {A, 'vpn_cert:laptop-01', B})

    store = _store.open_store()
    assert store.working_set() == {B: other}
    assert store.linking({'ad_machine:LAPTOP01$'}) == {A: office, 'vpn_cert:laptop-01': tunnel}
    assert store.linking({'ad_machine:LAPTOP03$', A}) == {}


# -- the index: a cycle reads its working set, not every record ------------------------------------

class Spy:
    """Counts what the store asks of its backend."""

    def __init__(self, store):
        self.read, self.scans = [], 0
        backend = store._backend
        read_many, versions = backend.read_many, backend.versions

        def counted_read(keys):
            keys = list(keys)
            self.read.extend(key for key in keys if 'mac-' in key)
            return read_many(keys)

        def counted_versions(*args):
            self.scans += 1
            return versions(*args)
        backend.read_many, backend.versions = counted_read, counted_versions


def test_first_use_builds_the_index_from_records_written_by_the_previous_release(jsonfile):
    records = fleet()
    legacy_write(records)
    store = _store.open_store()
    assert store.working_set() == working(records)
    assert store.index_state == 'rebuilt: no index yet'


def test_a_cycle_reads_its_working_set_from_the_index_alone_without_a_directory_scan(jsonfile):
    records = fleet()
    legacy_write(records)
    _store.open_store().working_set()
    store = _store.open_store()
    spy = Spy(store)
    assert store.working_set() == working(records) and store.index_state == 'fresh'
    assert spy.read == [] and spy.scans == 0
    assert store.get([mac_of(30)]) == as_read({mac_of(30): records[mac_of(30)]}) and spy.read == ['roamscan-id-mac-02770000001e']
    assert store.holders(['10.77.0.1', '10.77.0.12', '10.77.0.40']) == {'10.77.0.1': mac_of(1)}


def test_each_record_is_read_once_per_store(jsonfile):
    write_behind(fleet())
    store = _store.open_store()
    spy = Spy(store)
    store.working_set()
    store.get([mac_of(1), mac_of(30)])
    store.all()
    store.holders(['10.77.0.1'])
    assert sorted(spy.read) == sorted(set(spy.read)) and len(spy.read) == 50


def test_saves_keep_the_index_true_for_the_next_cycle(jsonfile):
    records = fleet()
    legacy_write(records)
    store = _store.open_store()
    back = store.get([mac_of(30)])[mac_of(30)]   # away laptop comes back
    back.update(lease_state='active', ip='10.77.9.9')
    gone = store.working_set()[mac_of(2)]
    gone['lease_state'] = 'released'
    assert store.save({mac_of(30): back, mac_of(2): gone}, [mac_of(30), mac_of(2)]) == 2
    records[mac_of(30)], records[mac_of(2)] = back, gone
    fresh = _store.open_store()
    spy = Spy(fresh)
    assert fresh.working_set() == working(records) and fresh.index_state == 'fresh' and spy.scans == 0
    assert fresh.holders(['10.77.9.9', '10.77.0.2']) == {'10.77.9.9': mac_of(30)}


def test_store_copied_with_its_times_kept_is_read_again_not_trusted(jsonfile, monkeypatch, tmp_path_factory):
    """A backup restored with cp -a, rsync -a or tar keeps the directory's time, the index's seal: the copies' versions
    are new all the same, so the first write must not be refused as changed by another writer."""
    records = fleet()
    legacy_write(records)
    _store.open_store().working_set()                       # index written and sealed
    copy = tmp_path_factory.mktemp('restored') / 'facts'
    shutil.copytree(jsonfile, copy, symlinks=True)          # file and directory times kept (copy2, copystat)
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_CONNECTION', str(copy))
    store = _store.open_store()
    assert store.working_set() == working(records)
    assert store.index_state == 'repaired'
    back = store.get([mac_of(30)])[mac_of(30)]
    back.update(lease_state='active', ip='10.77.9.9')
    assert store.save({mac_of(30): back}, [mac_of(30)]) == 1
    records[mac_of(30)] = back
    again = _store.open_store()
    assert again.working_set() == working(records) and again.index_state == 'fresh'


def index_file(directory):
    return directory / [name for name in os.listdir(directory) if name.endswith('roamscan-store-index')][0]


def test_index_deleted_mid_cycle_is_rebuilt_from_the_records(jsonfile):
    records = fleet()
    legacy_write(records)
    first = _store.open_store()
    here = first.working_set()[mac_of(3)]
    os.remove(index_file(jsonfile))
    here['hostname'] = 'pc3'
    first.save({mac_of(3): here}, [mac_of(3)])   # the next stage of the same cycle
    records[mac_of(3)] = here
    store = _store.open_store()
    assert store.working_set() == working(records) and store.all() == as_read(records)


@pytest.mark.parametrize('garbage', ['', '{"__payload__": "{\\"format\\": 1, \\"ove', '{"__payload__": "{\\"format\\": 7}"}',
                                     '{"format": 1, "overlay": []}'])
def test_corrupt_index_is_rebuilt_from_the_records(jsonfile, garbage):
    records = fleet()
    legacy_write(records)
    _store.open_store().working_set()
    index_file(jsonfile).write_text(garbage)
    store = _store.open_store()
    assert store.working_set() == working(records) and store.index_state.startswith('rebuilt')
    assert _store.open_store().working_set() == working(records)


def test_records_written_behind_its_back_are_found(jsonfile):
    """The previous release (or another controller) writes records without knowing of the index."""
    records = fleet()
    legacy_write(records)
    _store.open_store().working_set()
    records[mac_of(40)]['pending'] = {'scan_ref': 'scan/9.9', 'ip': '10.77.0.40', 'launched_at': '2026-11-28T07:40:00Z', 'title': 'u'}
    records[mac_of(1)]['lease_state'] = 'expired'
    records[mac_of(77)] = record(mac_of(77), '10.77.0.77')
    write_behind({mac: records[mac] for mac in (mac_of(40), mac_of(1), mac_of(77))})
    store = _store.open_store()
    assert store.working_set() == working(records) and store.index_state == 'repaired'
    assert sorted(store.digests()) == sorted(records)
    again = _store.open_store()
    assert again.working_set() == working(records) and again.index_state == 'fresh'


def test_away_record_given_a_scan_behind_its_back_joins_the_working_set(jsonfile):
    records = fleet()
    legacy_write(records)
    _store.open_store().working_set()
    records[mac_of(40)]['pending'] = {'scan_ref': 'scan/9.9', 'ip': '10.77.0.40', 'launched_at': '2026-11-28T07:40:00Z', 'title': 'u'}
    write_behind({mac_of(40): records[mac_of(40)]})
    store = _store.open_store()
    assert store.working_set() == working(records) and store.index_state == 'repaired'


def test_records_removed_behind_its_back_leave_the_index(jsonfile):
    records = fleet()
    legacy_write(records)
    _store.open_store().working_set()
    legacy_cache().delete('roamscan-id-mac-027700000001')
    legacy_cache().delete('roamscan-id-mac-027700000028')
    del records[mac_of(1)], records[mac_of(40)]
    store = _store.open_store()
    assert store.working_set() == working(records) and sorted(store.digests()) == sorted(records)


class Crash(Exception):
    pass


def crash_on(store, key_part, after=0):
    """Make the backend fail as its ``after``-th entry named like ``key_part`` is put in place (what a crash leaves)."""
    publish, seen = store._backend._publish, []

    def failing(temporary, path):
        if key_part in path:
            seen.append(path)
            if len(seen) > after:
                raise Crash(path)
        return publish(temporary, path)
    store._backend._publish = failing


@pytest.mark.parametrize('key_part, after', [('roamscan-store-index', 0), ('mac-', 1)])
def test_crash_between_writes_loses_no_laptop_and_credits_none_wrongly(jsonfile, key_part, after):
    records = fleet()
    legacy_write(records)
    store = _store.open_store()
    current = store.working_set()
    for number in (2, 3):                   # scans launched for two laptops here
        current[mac_of(number)]['pending'] = {'scan_ref': 'scan/2.%d' % number, 'ip': current[mac_of(number)]['ip'],
                                              'launched_at': '2026-11-28T07:50:00Z', 'title': 'v'}
    crash_on(store, key_part, after)
    with pytest.raises(Crash):
        store.save(current, [mac_of(2), mac_of(3)])
    written = legacy_cache().get('roamscan-id-mac-027700000002')['roamscan']
    assert written['pending']['scan_ref'] == 'scan/2.2'
    records[mac_of(2)] = written
    if key_part == 'roamscan-store-index':
        records[mac_of(3)] = legacy_cache().get('roamscan-id-mac-027700000003')['roamscan']
    after_crash = _store.open_store()
    assert after_crash.working_set() == working(records) and after_crash.all() == as_read(records)
    assert after_crash.index_state == 'repaired'


def test_catalog_compaction_keeps_every_laptop(jsonfile, monkeypatch):
    monkeypatch.setattr(_store, 'COMPACT_AFTER', 3)
    records = fleet()
    legacy_write(records)
    for number in range(10):
        store = _store.open_store()
        rec = store.working_set()[mac_of(number)]
        rec['lease_state'] = 'expired'       # leaves the working set: stays in the overlay until compaction
        store.save({mac_of(number): rec}, [mac_of(number)])
        records[mac_of(number)] = rec
    store = _store.open_store()
    assert store.working_set() == working(records) and store.index_state == 'fresh'
    assert len(store._index.overlay) <= len(working(records)) + 3
    assert counts(store.digests(), '2026-11-28T07:30:00Z', 30) == counts(records, '2026-11-28T07:30:00Z', 30)


def test_catalog_replaced_by_another_writer_mid_cycle_is_no_error(jsonfile, monkeypatch):
    """A second controller compacts the catalog after this store loaded its index: counting and saving still work."""
    monkeypatch.setattr(_store, 'COMPACT_AFTER', 0)
    records = fleet()
    legacy_write(records)
    _store.open_store().working_set()
    ours = _store.open_store()
    ours.working_set()
    theirs = _store.open_store()
    rec = theirs.working_set()[mac_of(1)]
    rec['lease_state'] = 'expired'
    theirs.save({mac_of(1): rec}, [mac_of(1)])            # compacts: a new catalog replaces the one ours read
    # ours counts the records as it read them (each read once per store object), without an error
    assert counts(ours.digests(), '2026-11-28T07:30:00Z', 30) == counts(records, '2026-11-28T07:30:00Z', 30)
    records[mac_of(1)] = rec
    mine = ours.working_set()[mac_of(2)]
    mine['lease_state'] = 'expired'
    assert ours.save({mac_of(2): mine}, [mac_of(2)]) == 1   # compacts again over the replaced catalog
    records[mac_of(2)] = mine
    again = _store.open_store()
    assert again.working_set() == working(records)
    assert counts(again.digests(), '2026-11-28T07:30:00Z', 30) == counts(records, '2026-11-28T07:30:00Z', 30)


def test_digests_give_the_summary_of_the_records(jsonfile):
    records = fleet()
    records[mac_of(45)]['last_scanned'] = '2026-11-20T00:00:00Z'
    legacy_write(records)
    _store.open_store().working_set()
    store = _store.open_store()
    spy = Spy(store)
    for now in ('2026-11-28T07:30:00Z', '2026-12-28T07:30:00Z'):
        assert counts(store.digests(), now, 30) == counts(records, now, 30)
    assert spy.read == []


# -- writes: verified, atomic, owner-only ------------------------------------------------------------

def test_folder_and_record_files_are_readable_by_their_owner_only(jsonfile):
    os.chmod(jsonfile, 0o755)
    legacy_write({B: record(B, '10.77.0.101')})      # Ansible's plugin writes 0644
    store = _store.open_store()
    store.save({A: record(A, '10.77.0.100')}, [A])
    store.get([B])
    assert os.stat(jsonfile).st_mode & 0o777 == 0o700
    files = [name for name in os.listdir(jsonfile) if name != LOCK]
    assert {name: os.stat(jsonfile / name).st_mode & 0o777 for name in files} == dict.fromkeys(files, 0o600)
    assert os.stat(jsonfile / LOCK).st_mode & 0o777 == 0o700
    assert {os.stat(path).st_mode & 0o777 for path in (jsonfile / LOCK).iterdir()} == {0o600}


def test_failed_write_raises_naming_the_file_and_changes_nothing(jsonfile, monkeypatch):
    legacy_write({A: record(A, '10.77.0.100')})
    store = _store.open_store()
    rec = store.get([A])[A]
    rec['hostname'] = 'new'
    before = {name: (jsonfile / name).read_bytes() for name in os.listdir(jsonfile) if name != LOCK}

    def disk_full(value, path):
        with open(path, 'w', encoding='utf-8') as handle:
            handle.write('{"__payl')
        raise OSError(28, 'No space left on device')
    monkeypatch.setattr(store._backend.plugin, '_dump', disk_full)
    with pytest.raises(_store.StoreWriteError, match=r'mac-027700000a01.*No space left on device'):
        store.save({A: rec}, [A])
    assert {name: (jsonfile / name).read_bytes() for name in os.listdir(jsonfile) if name != LOCK} == before


def test_write_that_does_not_read_back_is_an_error(jsonfile, monkeypatch):
    store = _store.open_store()
    dump = store._backend.plugin._dump
    monkeypatch.setattr(store._backend.plugin, '_dump', lambda value, path: dump({'__payload__': '{}'}, path))
    with pytest.raises(_store.StoreWriteError, match='mac-027700000a01.*did not read back'):
        store.save({A: record(A, '10.77.0.100')}, [A])


def test_garbage_record_file_is_reported_and_kept(jsonfile):
    write_behind({A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')})
    victim = jsonfile / [name for name in laptop_files(jsonfile) if name.endswith('roamscan-id-mac-027700000a01')][0]
    victim.write_bytes(b'\x00\xffgarbage')
    store = _store.open_store()
    assert list(store.working_set()) == [B]
    assert [item['host'] for item in store.corrupt] == ['roamscan-id-mac-027700000a01']
    assert victim.read_bytes() == b'\x00\xffgarbage'    # Ansible's plugin would delete it
    with pytest.raises(_store.StoreWriteError, match='Refusing to overwrite roamscan-id-mac-027700000a01'):
        store.save({A: record(A, '10.77.0.100')}, [A])
    again = _store.open_store()
    assert list(again.working_set()) == [B] and [item['host'] for item in again.corrupt] == ['roamscan-id-mac-027700000a01']


def test_garbage_0_1_file_is_reported_kept_and_never_shadowed(jsonfile):
    legacy_write({A: record(A, '10.77.0.100'), B: record(B, '10.77.0.101')})
    victim = jsonfile / [name for name in laptop_files(jsonfile) if name.endswith('_mac-027700000a01')][0]
    victim.write_bytes(b'\x00\xffgarbage')
    store = _store.open_store()
    assert list(store.working_set()) == [B]
    assert [item['host'] for item in store.corrupt] == ['mac-027700000a01']
    assert 'release 0.1, not upgraded' in store.corrupt[0]['error']
    with pytest.raises(_store.StoreWriteError, match='Refusing to write roamscan-id-mac-027700000a01.*0.1'):
        store.save({A: record(A, '10.77.0.100')}, [A])
    assert victim.read_bytes() == b'\x00\xffgarbage'
    assert not any(name.endswith('roamscan-id-mac-027700000a01') for name in laptop_files(jsonfile))


def test_0_1_records_are_moved_to_their_own_keys_and_survive_their_hosts_being_flushed(jsonfile):
    records = fleet()
    legacy_write(records, facts={mac_of(1): {'owner': 'alice'}})
    store = _store.open_store()
    assert store.working_set() == working(records) and store.all() == as_read(records)
    # moved upgraded: the record now says its identity and source
    assert legacy_cache().get('roamscan-id-mac-027700000001') == {'roamscan': as_read(records)[mac_of(1)]}
    assert legacy_cache().get('mac-027700000001') == {'owner': 'alice'}   # the record has one home
    assert not any(name.endswith('_mac-027700000002') or name == 'mac-027700000002' for name in os.listdir(jsonfile))
    for mac in records:                      # what ansible-playbook --flush-cache does to the laptop hosts
        legacy_cache().delete('mac-' + mac.replace(':', ''))
    again = _store.open_store()
    assert again.all() == as_read(records) and again.working_set() == working(records) and again.corrupt == []


def test_an_upgraded_record_is_not_overwritten_by_its_stale_0_1_entry(jsonfile):
    legacy_write({A: record(A, '10.77.0.100')})
    store = _store.open_store()
    newer = store.all()[A]
    newer['hostname'] = 'alice-new'
    store.save({A: newer}, [A])
    assert _store.open_store().all() == {A: newer}


def snapshot_reads(monkeypatch):
    """The record entries the store reads one by one (the snapshot itself is read in one go)."""
    read = []
    original = _store.LaptopStore._read_keys

    def counting(self, keys, again=False):
        read.extend(keys.values())
        return original(self, keys, again)
    monkeypatch.setattr(_store.LaptopStore, '_read_keys', counting)
    return read


def test_every_record_through_the_report_snapshot_reads_only_what_changed_since(jsonfile, monkeypatch):
    written = fleet()
    legacy_write(written)
    records = as_read(written)
    cache = legacy_cache()
    cache.set('roamscan-id-mac-027700000a01', {'roamscan': {'schema': 99}})   # corrupt: reported every time, never kept
    read = snapshot_reads(monkeypatch)
    first = _store.open_store()
    assert first.all(snapshot=True) == records and first.snapshot_state == 'read 51 changed records'
    assert len(read) == len(records) + 1 and [item['host'] for item in first.corrupt] == ['roamscan-id-mac-027700000a01']

    del read[:]
    again = _store.open_store()
    assert again.all(snapshot=True) == records and again.snapshot_state == 'read 1 changed records'   # the corrupt one
    assert read == ['02:77:00:00:0a:01'] and [item['host'] for item in again.corrupt] == ['roamscan-id-mac-027700000a01']

    # a record written behind the store's back (another controller) is read again; one deleted is gone
    changed = dict(written[mac_of(3)], hostname='renamed')
    write_behind({mac_of(3): changed})
    gone = [name for name in laptop_files(jsonfile) if name.endswith(mac_of(4).replace(':', ''))][0]
    os.unlink(jsonfile / gone)
    del read[:]
    third = _store.open_store().all(snapshot=True)
    assert third[mac_of(3)]['hostname'] == 'renamed' and mac_of(4) not in third
    assert sorted(read) == sorted(['02:77:00:00:0a:01', mac_of(3)])
    expected = dict(records, **as_read({mac_of(3): changed}))
    del expected[mac_of(4)]
    assert third == expected


def test_a_report_snapshot_that_is_garbage_or_not_refreshed_costs_a_full_read_never_a_wrong_record(jsonfile, monkeypatch):
    written = fleet()
    legacy_write(written)
    records = as_read(written)
    _store.open_store().all(snapshot=True, refresh=False)         # check mode: no snapshot written
    assert not [name for name in os.listdir(jsonfile) if 'snapshot' in name]
    legacy_cache().set('roamscan-report-snapshot', {'format': 1, 'data': '{"entries": {"roamscan-id-mac-x": 5}}'})
    store = _store.open_store()
    assert store.all(snapshot=True) == records and store.snapshot_state.startswith('rebuilt: malformed report snapshot')
    assert _store.open_store().all(snapshot=True) == records
