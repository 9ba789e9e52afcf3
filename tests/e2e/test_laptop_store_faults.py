# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Storage faults users hit, for real: the fact cache on a file system that fills up, is read-only or
denies access, and a controller killed in the middle of a save. Each is a clear StoreError, loses nothing,
and (through the cycle failing) acknowledges nothing; the next good cycle recovers."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from cycle_lab import CycleLab, hook_line, summary_of
from legacy_records import as_read, mac_of, sample_fleet, sample_pending, working_set_of

pytestmark = pytest.mark.root
A, B, C = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'


def fill(directory):
    """Fill the file system of ``directory``; returns the filler file (remove it to free the space)."""
    filler = directory / 'filler'
    with open(filler, 'wb') as handle:
        try:
            while True:
                handle.write(b'\0' * 65536)
                handle.flush()
        except OSError:
            pass
    # the last partial blocks too
    try:
        with open(filler, 'ab') as handle:
            while True:
                handle.write(b'\0' * 512)
                handle.flush()
    except OSError:
        pass
    return filler


def snapshot(directory):
    # the cycle lease lives in a folder of its own there (_store_lock.py); the records are the files
    return {name: (directory / name).read_bytes() for name in sorted(os.listdir(directory))
            if name != 'filler' and (directory / name).is_file()}


def jsonfile_at(directory):
    return {'plugin': 'ansible.builtin.jsonfile', 'connection': str(directory), 'timeout': 0}


def test_store_on_a_full_disk_raises_naming_the_file_and_changes_nothing(small_fs, store_driver):
    facts = small_fs / 'facts'
    records = sample_fleet(4, 2, 6)
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'legacy_write', 'records': records},
                                                                           {'op': 'working_set'}]})
    assert status == 0
    before = snapshot(facts)
    filler = fill(small_fs)
    changed = dict(as_read(records)[mac_of(7)], lease_state='active')   # a record as today's cycle writes it
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'save', 'records': {mac_of(7): changed}}]})
    assert status == 3 and answer['error'] == 'StoreWriteError'
    assert 'No space left on device' in answer['message'] and str(facts) in answer['message']
    assert snapshot(facts) == before                 # no empty, torn or temporary file
    filler.unlink()
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'save', 'records': {mac_of(7): changed}},
                                                                           {'op': 'all'}]})
    records[mac_of(7)] = changed
    assert status == 0 and answer['results'][1] == as_read(records)


def test_store_on_a_read_only_file_system_is_a_clear_error(small_fs, store_driver):
    facts = small_fs / 'facts'
    records = sample_fleet(2, 1, 2)
    store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'legacy_write', 'records': records}, {'op': 'working_set'}]})
    subprocess.run(['mount', '-o', 'remount,ro', str(small_fs)], check=True)
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'save', 'records': {mac_of(0): records[mac_of(0)]}}]})
    assert status == 3 and answer['error'].startswith('Store') and str(facts) in answer['message']
    subprocess.run(['mount', '-o', 'remount,rw', str(small_fs)], check=True)
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'all'}]})
    assert status == 0 and answer['results'][0] == as_read(records)


def test_store_denied_access_to_a_record_is_a_clear_error_and_writes_nothing(tmp_path, store_driver):
    facts = tmp_path / 'facts'
    records = sample_fleet(3, 0, 0)
    store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'write_behind', 'records': records}]})
    locked = next(facts / name for name in os.listdir(facts) if name.endswith('roamscan-id-mac-027700000001'))
    locked.chmod(0)
    before = {name: (facts / name).stat().st_mtime_ns for name in os.listdir(facts)}
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'working_set'}]}, bypass_permissions=False)
    assert status == 3 and answer['error'] == 'StoreError'
    assert 'Permission denied' in answer['message'] and str(locked) in answer['message']
    assert {name: (facts / name).stat().st_mtime_ns for name in os.listdir(facts)} == before
    facts.chmod(0o500)      # and a folder it may not write to
    locked.chmod(0o600)
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'save', 'records': records}]}, bypass_permissions=False)
    assert status == 3 and answer['error'].startswith('Store') and str(facts) in answer['message']
    facts.chmod(0o700)
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'working_set'}]}, bypass_permissions=False)
    assert status == 0 and answer['results'][0] == working_set_of(records)


@pytest.mark.parametrize('kill_at_write', [1, 2, 3], ids=['first-record', 'second-record', 'the-index'])
def test_store_killed_mid_save_loses_no_laptop_and_rebuilds_its_index(tmp_path, store_driver, kill_at_write):
    facts = tmp_path / 'facts'
    records = sample_fleet(4, 2, 10)
    store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'legacy_write', 'records': records}, {'op': 'working_set'}]})
    launched = {mac_of(n): dict(records[mac_of(n)], pending=sample_pending(n, 'scan/3.%d' % n, title='w')) for n in (1, 2)}
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'save', 'records': launched}],
                                   'kill_at_write': kill_at_write})
    assert status == -9
    records.update({mac: launched[mac] for mac in sorted(launched)[:kill_at_write - 1]})
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'working_set'}, {'op': 'all'}]})
    assert status == 0 and answer['results'] == [working_set_of(records), as_read(records)]
    assert answer['index_state'] == ('fresh' if kill_at_write == 1 else 'repaired')


# -- the same faults through the cycle (the current playbook) ---------------------------------------------

def acked(lab):
    state = lab.spool_dir('dhcp1') / 'state.json'
    return json.loads(state.read_text()).get('acked') if state.exists() else None


def test_cycle_on_a_full_disk_fails_naming_the_file_acknowledges_nothing_and_the_next_cycle_recovers(
        small_fs, tmp_path, ansible_env, qualys_sim, store_driver):
    facts = small_fs / 'facts'
    # roamscan's store on the small file system; Ansible's own fact cache (which, on a full disk, ansible-core's
    # jsonfile plugin leaves as empty files that fail the next run once) elsewhere
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    store = {'roamscan_fact_cache': jsonfile_at(facts)}
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    first = lab.run(qualys_sim, extra_vars=store)
    assert first.returncode == 0, first.stdout[-3000:]
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'all'}]})
    history = {mac: (rec['first_seen'], rec['held_since'], rec['pending']) for mac, rec in answer['results'][0].items()}
    assert status == 0 and sorted(history) == [A, B] and all(item[2] for item in history.values())
    acked_before = acked(lab)
    lab.append_spool('dhcp1', hook_line(C, '10.77.0.102'))   # C is seen only through this event
    filler = fill(small_fs)
    full = lab.run(qualys_sim, extra_vars=store)
    # whichever write of the store fails, the cycle stops there: the DHCP servers keep every event, no laptop
    # record is torn
    assert full.returncode != 0
    assert 'No space left on device' in full.stdout and str(facts) in full.stdout
    assert acked(lab) == acked_before
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'all'}, {'op': 'working_set'}]})
    assert status == 0 and answer['corrupt'] == []
    assert {mac: (rec['first_seen'], rec['held_since'], rec['pending']) for mac, rec in answer['results'][0].items()
            if mac in history} == history
    filler.unlink()
    good = lab.run(qualys_sim, extra_vars=store)
    assert good.returncode == 0, good.stdout[-3000:]
    assert acked(lab) != acked_before
    status, answer = store_driver({'settings': jsonfile_at(facts), 'ops': [{'op': 'all'}]})
    assert sorted(answer['results'][0]) == [A, B, C]
    assert all(answer['results'][0][mac]['first_seen'] == history[mac][0] for mac in history)
    assert summary_of(good)['known'] in (3, '3')
