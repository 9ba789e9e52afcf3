# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Drive the laptop store API in a process of its own, the way a stage action would: as another user, on a
full or read-only file system, against a Redis that goes away, or killed in the middle of a save.

    python store_driver.py '<request json>'

The request is ``{"settings": roamscan_fact_cache or null, "ops": [...], "kill_at_write": N}``; ops are
``{"op": "legacy_write", "records": {mac: record}}`` (as the previous release wrote),
``{"op": "write_behind", "records": {mac: record}}`` (today's keys, another controller), ``{"op": "working_set"}``,
``{"op": "all"}``, ``{"op": "digests"}``, ``{"op": "holders", "ips": [...]}``, ``{"op": "get", "macs": [...]}`` and
``{"op": "save", "records": {mac: record}}``. ``kill_at_write`` SIGKILLs the process right before the store puts
its N-th write (1-based) in place: for files each entry's rename, for Redis each transaction. Prints
``{"results", "index_state", "corrupt", "records_read"}``, or ``{"error": class name, "message"}`` with exit
status 3.
"""
from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path


def _collections_paths():
    return [path for path in os.environ.get('ANSIBLE_COLLECTIONS_PATH', '').split(os.pathsep) if path]


def main():
    request = json.loads(sys.argv[1])
    from ansible.plugins.loader import init_plugin_loader  # pylint: disable=import-outside-toplevel
    init_plugin_loader(_collections_paths())
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    # pylint: disable=import-outside-toplevel
    from legacy_records import legacy_cache, legacy_write, write_behind
    from ansible_collections.roamscan.qualys.plugins.plugin_utils import _store

    results, reads = [], []
    try:
        store = None
        for op in request['ops']:
            if op['op'] in ('legacy_write', 'write_behind'):
                settings = request.get('settings') or {}
                options = {key: settings[field] for field, key in (('connection', '_uri'), ('timeout', '_timeout'))
                           if settings.get(field) is not None}
                (legacy_write if op['op'] == 'legacy_write' else write_behind)(op['records'], legacy_cache(settings.get('plugin'), **options))
                results.append(len(op['records']))
                continue
            if store is None:
                store = _store.open_store(settings=request.get('settings'))
                _instrument(store, reads, request.get('kill_at_write'))
            if op['op'] == 'save':
                results.append(store.save(op['records'], list(op['records'])))
            elif op['op'] == 'holders':
                results.append(store.holders(op['ips']))
            elif op['op'] == 'get':
                results.append(store.get(op['macs']))
            else:
                results.append(getattr(store, op['op'])())
    except _store.StoreError as exc:
        print(json.dumps({'error': type(exc).__name__, 'message': str(exc), 'results': results}))
        return 3
    print(json.dumps({'results': results, 'index_state': store.index_state if store else None,
                      'corrupt': store.corrupt if store else [], 'records_read': reads}))
    return 0


def _instrument(store, reads, kill_at_write):
    """Count record reads; SIGKILL before the ``kill_at_write``-th write is put in place."""
    backend = store._backend   # pylint: disable=protected-access
    read_many, publish, writes = backend.read_many, backend._publish, []  # pylint: disable=protected-access

    def counted(keys):
        keys = list(keys)
        reads.extend(key for key in keys if not key.startswith('roamscan-store-'))
        return read_many(keys)

    def killing(*args):
        writes.append(args)
        if kill_at_write and len(writes) >= kill_at_write:
            os.kill(os.getpid(), signal.SIGKILL)
        return publish(*args)
    backend.read_many, backend._publish = counted, killing  # pylint: disable=protected-access


if __name__ == '__main__':
    sys.exit(main())
