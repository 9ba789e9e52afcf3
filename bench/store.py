# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Store-level cost of one scan cycle: the laptop store's calls as the stage actions make them (each stage its own
store object, as each action is its own task), against the full-read path of roamscan 0.1 (every laptop_state
call read every record: five per cycle) measured in the same run, on jsonfile and on a real redis-server.

    python bench/store.py [--sizes 10000:1000,100000:1000,100000:10000] [--stores jsonfile,redis]

A size is ``known:present``; present laptops hold a lease and are due, the rest are away. Above
``--full-read-max-known`` the full-read cycle is one read-and-fold call plus four separately measured reads. Per size and store it
prints the seeding time (through the cache plugin, as roamscan 0.1 wrote), the first use (index built from the
records), the full-read cycle, the indexed cycle and their ratio, then the growth from the first size.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from legacy_records import legacy_cache, legacy_write, mac_of, sample_fleet  # noqa: E402  pylint: disable=wrong-import-position
from redis_lab import RedisServer  # noqa: E402  pylint: disable=wrong-import-position

FULL_READS_PER_CYCLE = 5
LAUNCH_CAP = 500


def load_collection(base, tree=ROOT):
    """Make this tree (or ``tree``, a checkout of another commit) importable as roamscan.qualys and the ansible
    package's collections loadable."""
    namespace = base / 'collections' / 'ansible_collections' / 'roamscan'
    namespace.mkdir(parents=True)
    (namespace / 'qualys').symlink_to(tree)
    os.environ['ANSIBLE_COLLECTIONS_SCAN_SYS_PATH'] = 'true'
    from ansible.plugins.loader import init_plugin_loader  # pylint: disable=import-outside-toplevel
    init_plugin_loader([str(base / 'collections')])


def timed(function):
    start = time.monotonic()
    function()
    return time.monotonic() - start


def full_read_cycle(open_store, present_macs, calls=FULL_READS_PER_CYCLE):
    """roamscan 0.1: every call reads every record; the fold writes the present ones."""
    for call in range(calls):
        store = open_store()
        records = store.all()
        if call == 0:
            for mac in present_macs:
                records[mac]['last_seen'] = records[mac]['last_seen'].replace('07:00', '07:05')
            store.save(records, present_macs)


def staged_cycle(open_store, present_macs, now):
    """The stage actions' calls: remember, confirm, decide, verify (intents), record (scan refs), summary."""
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.roamscan.qualys.plugins.plugin_utils import _decide, _launch, _summary
    store = open_store()                                    # remember
    records = store.working_set()
    records.update(store.get(present_macs))
    for mac in present_macs:
        records[mac]['last_seen'] = records[mac]['last_seen'].replace('07:05', '07:10')
    store.save(records, present_macs)
    open_store().working_set()                              # confirm
    store = open_store()                                    # decide
    targets = _decide.candidates(store.working_set(), now, 30)[:LAUNCH_CAP]
    _summary.counts(store.digests(), now, 30)
    store = open_store()                                    # verify: still held by the same MAC, record intent
    holders = store.holders([item['ip'] for item in targets])
    records = store.working_set()
    changed, launch, dummy = _launch.record_intent(records, 'bench', targets, holders, now)
    store.save(records, changed)
    store = open_store()                                    # record the launched scan
    records = store.working_set()
    changed, dummy, dummy = _launch.record_launch(records, 'bench', [{'ref': 'scan/1.1', 'targets': [t['ip'] for t in launch]}])
    store.save(records, changed)
    _summary.counts(open_store().digests(), now, 30)        # summary
    return len(launch)


def run_size(kind, known, present, base, redis, full_read_max_known):
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import open_store  # pylint: disable=import-outside-toplevel
    if kind == 'redis':
        settings = {'plugin': 'community.general.redis', 'connection': redis.connection, 'timeout': 0}
        redis.flush()
        seed_cache = legacy_cache('community.general.redis', _uri=redis.connection, _timeout=0)
    else:
        directory = base / ('facts-%d-%d' % (known, present))
        settings = {'plugin': 'ansible.builtin.jsonfile', 'connection': str(directory), 'timeout': 0}
        seed_cache = legacy_cache('ansible.builtin.jsonfile', _uri=str(directory), _timeout=0)
    records = sample_fleet(present, 0, known - present)
    seeding = timed(lambda: legacy_write(records, seed_cache))
    del records
    present_macs = [mac_of(n) for n in range(present)]
    first_use = timed(lambda: open_store(settings).working_set())
    if known <= full_read_max_known:
        full = timed(lambda: full_read_cycle(lambda: open_store(settings), present_macs))
    else:   # one call measured (the fold's, with its writes), the other four reads taken to cost what a read costs
        one_read = timed(lambda: open_store(settings).all())
        full = timed(lambda: full_read_cycle(lambda: open_store(settings), present_macs, calls=1)) + (FULL_READS_PER_CYCLE - 1) * one_read
    launched = []
    staged = timed(lambda: launched.append(staged_cycle(lambda: open_store(settings), present_macs, '2026-11-28T07:30:00Z')))
    assert launched == [min(present, LAUNCH_CAP)], launched
    if kind == 'jsonfile':
        shutil.rmtree(base / ('facts-%d-%d' % (known, present)))
    return seeding, first_use, full, staged


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', default='10000:1000,100000:1000,100000:10000')
    parser.add_argument('--stores', default='jsonfile,redis')
    parser.add_argument('--full-read-max-known', type=int, default=10000,
                        help='above this, the full-read cycle is one read-and-fold call plus four measured reads')
    parser.add_argument('--dir', help='where the jsonfile caches go (default: the system temporary directory)')
    args = parser.parse_args()
    sizes = [tuple(int(part) for part in item.split(':')) for item in args.sizes.split(',')]
    kinds = args.stores.split(',')
    with tempfile.TemporaryDirectory(prefix='roamscan-bench-store-', dir=args.dir) as tmp:
        base = Path(tmp)
        load_collection(base)
        redis = None
        if 'redis' in kinds:
            if not shutil.which('redis-server'):
                raise SystemExit('redis-server is not installed (scripts/install-system-deps)')
            (base / 'redis').mkdir()
            redis = RedisServer(base / 'redis').start()
        try:
            for kind in kinds:
                rows = []
                for known, present in sizes:
                    seeding, first_use, full, staged = run_size(kind, known, present, base, redis, args.full_read_max_known)
                    rows.append((known, present, staged))
                    print('%-8s known=%6d present=%5d seed=%6.1fs first_use(index build)=%6.2fs full_read_cycle=%7.2fs '
                          'staged_cycle=%6.2fs ratio(full/staged)=%5.1fx' % (
                              kind, known, present, seeding, first_use, full, staged, full / staged), flush=True)
                base_row = next((row for row in rows if row[1] == rows[0][1]), rows[0])
                for known, present, staged in rows[1:]:
                    if present == base_row[1]:
                        print('%-8s growth %d -> %d known at %d present: x%.2f (goal < 1.5)' % (
                            kind, base_row[0], known, present, staged / base_row[2]))
        finally:
            if redis is not None:
                redis.stop()
    return 0


if __name__ == '__main__':
    sys.exit(main())
