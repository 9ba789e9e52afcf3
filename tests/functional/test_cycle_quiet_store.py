# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cycle that has nothing to do, or that finds another cycle holding the store's lease, writes nothing to the
store: not a record, not the index, not its catalog (and the skipped one not even the history). Checked on the
jsonfile directory itself (every entry's inode, size and modification time) around real ansible-playbook runs; the
other controller's cycle is its lease in the store and a record it wrote behind the index, as a running cycle does."""
from __future__ import annotations

import hashlib
import json
import time

from cycle_lab import CycleLab, summary_of
from legacy_records import mac_of, sample_record

LOCK_DIRECTORY = '.roamscan-lock'
INDEX, CATALOG = 's1_roamscan-store-index', 's1_roamscan-store-catalog'   # ansible-core 2.19+ jsonfile names
HISTORY = 's1_roamscan-history'
ANSIBLE_OWN = 's1_localhost'


def snapshot(directory, times=False):
    """``{relative path: (inode, content digest[, mtime_ns])}`` of every file below ``directory`` except ansible-core's
    own (empty) facts of the play's host, which ansible-playbook rewrites at the end of every run. Every store write
    replaces the file (a new inode); ``times`` also sees a seal (the index's time set to the directory's)."""
    found = {}
    for path in sorted(directory.rglob('*')):
        if path.is_file() and path.name != ANSIBLE_OWN:
            info = path.stat()
            found[str(path.relative_to(directory))] = (info.st_ino, hashlib.sha256(path.read_bytes()).hexdigest()) + (
                (info.st_mtime_ns,) if times else ())
    return found


def without(found, *names):
    return {path: value for path, value in found.items() if not path.startswith(names)}


def changed(after, before):
    return sorted(path for path in set(after) | set(before) if after.get(path) != before.get(path))


def seeded_lab(tmp_path, ansible_env, store_driver):
    """A controller whose jsonfile store holds 12 laptops away from the network, indexed by one cycle."""
    lab = CycleLab(tmp_path / 'controller', ansible_env)
    settings = {'plugin': 'ansible.builtin.jsonfile', 'connection': str(lab.cache_dir), 'timeout': 0}
    records = {mac_of(number): sample_record(number, 'expired') for number in range(12)}
    status, answer = store_driver({'settings': settings, 'ops': [{'op': 'write_behind', 'records': records}]})
    assert status == 0, answer
    return lab, settings


def test_a_cycle_with_nothing_to_do_rewrites_no_record_and_no_index(tmp_path, ansible_env, qualys_sim, store_driver):
    lab, dummy = seeded_lab(tmp_path, ansible_env, store_driver)
    first = lab.run(qualys_sim)
    assert first.returncode == 0, first.stdout[-4000:]
    assert summary_of(first)['known'] == 12
    before = snapshot(lab.cache_dir)
    assert INDEX in before and CATALOG in before   # the first cycle indexed the records

    quiet = lab.run(qualys_sim)
    assert quiet.returncode == 0, quiet.stdout[-4000:]
    assert summary_of(quiet)['known'] == 12 and summary_of(quiet)['launched'] == []
    after = snapshot(lab.cache_dir)
    assert without(after, LOCK_DIRECTORY, HISTORY) == without(before, LOCK_DIRECTORY, HISTORY), changed(after, before)
    assert after[HISTORY] != before[HISTORY]   # it ran: the day's history counts it


def test_a_cycle_that_finds_the_lease_held_writes_nothing(tmp_path, ansible_env, qualys_sim, store_driver):
    lab, settings = seeded_lab(tmp_path, ansible_env, store_driver)
    assert lab.run(qualys_sim).returncode == 0
    # the other controller's cycle: it holds the lease and has written a record since the index was sealed
    now = time.time()
    (lab.cache_dir / LOCK_DIRECTORY / 'lease').write_text(json.dumps({
        'token': 7, 'owner': 'awx', 'host': 'controller-b', 'pid': 4242, 'since': now, 'expires': now + 600,
        'held': True, 'seconds': 600}))
    status, answer = store_driver({'settings': settings, 'ops': [
        {'op': 'write_behind', 'records': {mac_of(3): dict(sample_record(3, 'expired'), hostname='seen-by-b')}}]})
    assert status == 0, answer
    before = snapshot(lab.cache_dir, times=True)

    skipped = lab.run(qualys_sim)
    assert skipped.returncode == 0, skipped.stdout[-4000:]
    summary = summary_of(skipped)
    assert summary['skipped'].startswith('skipped: another cycle is running on controller-b (pid 4242) since ')
    after = snapshot(lab.cache_dir, times=True)
    assert after == before, changed(after, before)   # no index repair under the running cycle, no history, no lease change

    (lab.cache_dir / LOCK_DIRECTORY / 'lease').write_text(json.dumps({'token': 7, 'held': False, 'released': time.time()}))
    after = lab.run(qualys_sim)
    assert after.returncode == 0 and summary_of(after)['skipped'] is None
    records, dummy = lab.inventory()
    assert records['mac-' + mac_of(3).replace(':', '')]['hostname'] == 'seen-by-b'   # the other cycle's write is kept
    assert snapshot(lab.cache_dir, times=True)[INDEX] != before[INDEX]   # repaired once it ran
