# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of the coverage report at fleet scale: reading ``--devices`` devices and ``--days`` of daily history from a
jsonfile store, then rendering the page and the four exports, against rendering today's report — the previous page
(coverage list and Jinja template, the git copy from before this report replaced them) over the same records —
measured in the same run. The store is read two ways: every record (what the previous report did, and the first
report), and through the report snapshot after a cycle rewrote ``--changed`` records (what a report costs from
then on); end to end is the snapshot read plus the rendering. Also the size of the history after
``roamscan_history_days`` days of 100000-device cycles.

    python bench/report.py [--devices 100000] [--days 365] [--changed 1000]
"""
from __future__ import annotations

import argparse
import datetime
import json
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))
sys.path.insert(0, str(ROOT / 'bench'))

from store import load_collection, timed  # noqa: E402  pylint: disable=wrong-import-position
from report_fleet import fleet, history  # noqa: E402  pylint: disable=wrong-import-position


def previous_report():
    """The previous report's coverage() and template, from the commit before the one that removed the template."""
    try:
        removed = subprocess.run(['git', '-C', str(ROOT), 'rev-list', '-1', 'HEAD', '--', 'playbooks/templates/coverage_report.html.j2'],
                                 capture_output=True, text=True, check=True).stdout.strip()
        before = removed + '^'
        source = subprocess.run(['git', '-C', str(ROOT), 'show', '%s:plugins/plugin_utils/_coverage.py' % before], capture_output=True,
                                text=True, check=True).stdout
        template = subprocess.run(['git', '-C', str(ROOT), 'show', '%s:playbooks/templates/coverage_report.html.j2' % before],
                                  capture_output=True, text=True, check=True).stdout
    except subprocess.CalledProcessError:
        return None
    module = types.ModuleType('previous_coverage')
    exec(compile(source, 'main:_coverage.py', 'exec'), module.__dict__)  # pylint: disable=exec-used
    return module.coverage, template


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--devices', type=int, default=100000)
    parser.add_argument('--days', type=int, default=365)
    parser.add_argument('--changed', type=int, default=1000, help='records a cycle rewrites between two reports')
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix='roamscan-bench-report-'))
    load_collection(base)
    # pylint: disable=import-outside-toplevel
    import jinja2
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._coverage import REASONS, report
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import (
        HISTORY_KEY, fold_cycle, history_value, parse_history)
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_export import export_paths, exports, write_files
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_page import render
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import read_settings
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import open_store
    from legacy_records import legacy_cache, legacy_write, write_behind

    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    now_text = now.strftime('%Y-%m-%dT%H:%M:%SZ')
    settings_store = {'plugin': 'ansible.builtin.jsonfile', 'connection': str(base / 'facts'), 'timeout': 0}
    started = time.monotonic()
    records = fleet(args.devices, now)
    cache = legacy_write(records, legacy_cache('ansible.builtin.jsonfile', _uri=str(base / 'facts'), _timeout=0))
    cache.set(HISTORY_KEY, history_value(history(args.days, now, args.devices)))
    print('seeded %d devices and %d days of history in %.1f s' % (args.devices, args.days, time.monotonic() - started))
    open_store(settings_store).all()   # the first use builds the store's index: no timing below pays for it
    settings = read_settings({'roamscan_report_days': args.days})
    page = base / 'out' / 'coverage.html'
    page.parent.mkdir()
    loaded = {}

    def read_store(snapshot=False):
        store = open_store(settings_store)
        loaded.update(records=store.all(snapshot=snapshot), history=parse_history(store.read_entry(HISTORY_KEY)))
        loaded['state'] = store.snapshot_state

    def new_report():
        model = report(loaded['records'], loaded['history'], now_text, settings)
        texts = {path: text for suffix, text in exports(model).items() for path in [export_paths(str(page))[suffix]]}
        texts[str(page)] = render(model, REASONS, sorted(texts))
        write_files(texts)

    read_seconds = timed(read_store)
    first_snapshot_seconds = timed(lambda: read_store(snapshot=True))   # reads every record, writes the snapshot
    changed = dict(list(records.items())[:args.changed])
    for record in changed.values():
        record['last_seen'] = now_text
    write_behind(changed, cache)   # a cycle's writes between two reports
    snapshot_seconds = timed(lambda: read_store(snapshot=True))
    assert loaded['state'] == 'read %d changed records' % len(changed), loaded['state']
    previous = previous_report()
    if previous is not None:
        coverage, template = previous

        def old_report():
            records = loaded['records']
            result = {'coverage': coverage(records, now_text, args.days, 30), 'counts': {'known': len(records)},
                      'now': now_text, 'rescan_days': 30}
            (base / 'out' / 'old.html').write_text(jinja2.Template(template, autoescape=False).render(roamscan_report=result))

        old_seconds = timed(old_report)
    new_seconds = timed(new_report)
    sizes = {path.name: path.stat().st_size for path in sorted(page.parent.iterdir())}
    print('reading the store, every record (%d records + history; the previous report, and a first report): %.2f s'
          % (args.devices, read_seconds))
    print('first report snapshot (every record read, snapshot written): %.2f s' % first_snapshot_seconds)
    print('reading through the snapshot after a cycle rewrote %d records: %.2f s; ratio snapshot / every record: %.2f'
          % (len(changed), snapshot_seconds, snapshot_seconds / read_seconds))
    print('rendering the report (numbers, page, 4 exports written): %.2f s' % new_seconds)
    print('end to end (snapshot read + rendering): %.2f s (goal <= 10 s); every-record read + rendering: %.2f s; ratio %.2f'
          % (snapshot_seconds + new_seconds, read_seconds + new_seconds, (snapshot_seconds + new_seconds) / (read_seconds + new_seconds)))
    if previous is not None:
        print("rendering today's report (coverage list, Jinja page): %.2f s; ratio new / today's: %.2f"
              % (old_seconds, new_seconds / old_seconds))
    print('files: %s' % ', '.join('%s %.1f MB' % (name, size / 1e6) for name, size in sizes.items()))

    days = []
    summary = {'known': 100000, 'present': 10000, 'overdue': 3000, 'pending': 100, 'launched': ['scan/1'] * 4,
               'launched_targets': ['10.0.0.1'] * 500, 'credited': ['m'] * 450,
               'not_credited': [{'reason': 'the scan did not find it alive'}] * 50,
               'dropped_at_launch': [{'reason': 'IP 10.0.%d.%d no longer leased to this MAC' % (n // 256, n % 256)} for n in range(40)]}
    for number in range(450):
        moment = (now - datetime.timedelta(days=449 - number)).strftime('%Y-%m-%dT%H:%M:%SZ')
        days = fold_cycle(days, summary, {'scan_status': 96, 'host_list': 96, 'scan_launch': 4}, moment, 400)
    print('history after 450 days of 100000-device cycles (roamscan_history_days 400): %d entries, %.1f KB'
          % (len(days), len(json.dumps(history_value(days))) / 1e3))
    subprocess.run(['rm', '-rf', str(base)], check=False)


if __name__ == '__main__':
    main()
