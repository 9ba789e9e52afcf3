# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Cost of the coverage report at fleet scale: ``--devices`` devices and ``--days`` of daily history in a jsonfile
store, read and rendered (numbers, page, four exports written) as ``laptop_coverage`` does it, against rendering
today's report measured in the same run.

    python bench/report.py [--devices 100000] [--days 365] [--changed 1000] [--baseline CHECKOUT]

The store is read every record (the first report) and through the report snapshot after a cycle rewrote ``--changed``
records (every later report). The report itself (the snapshot read, then the rendering) runs in a process of its own,
with this tree's collection and, with ``--baseline`` (a checkout of an earlier commit: ``git worktree add --detach
/tmp/base <commit>``), with that checkout's, on the same store: it prints both, their ratio and the goal (<= 10 s end
to end). Also the previous page (coverage list and Jinja template, the git copy from before this report replaced
them) over the same records, and the size of the history after ``roamscan_history_days`` days of 100000-device
cycles. Every time is wall and CPU seconds (CPU is the less noisy one on shared cores), with the load average.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))
sys.path.insert(0, str(ROOT / 'bench'))

from store import load_collection  # noqa: E402  pylint: disable=wrong-import-position


def measured(function):
    """``(wall seconds, CPU seconds)`` of one call."""
    wall, cpu = time.monotonic(), time.process_time()
    function()
    return time.monotonic() - wall, time.process_time() - cpu


def load():
    return '%.1f / %.1f / %.1f' % os.getloadavg()


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


def run_report(args):
    """One report with the collection of ``args.tree``, as laptop_coverage makes it: prints its times as JSON."""
    base = Path(tempfile.mkdtemp(prefix='roamscan-bench-report-run-'))
    load_collection(base, Path(args.tree))
    # pylint: disable=import-outside-toplevel
    from ansible_collections.roamscan.qualys.plugins.plugin_utils import _coverage
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import HISTORY_KEY, parse_history
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_export import export_paths, exports, write_files
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_page import render
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import read_settings
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import open_store

    settings = read_settings({'roamscan_report_days': args.days})
    page = str(Path(args.out) / 'coverage.html')
    loaded = {}

    def read():
        store = open_store({'plugin': 'ansible.builtin.jsonfile', 'connection': args.store, 'timeout': 0})
        loaded.update(records=store.all(snapshot=True), history=parse_history(store.read_entry(HISTORY_KEY)), state=store.snapshot_state)

    def rendering():
        model = _coverage.report(loaded['records'], loaded['history'], args.now, settings)
        texts = {path: text for suffix, text in exports(model).items() for path in [export_paths(page)[suffix]]}
        texts[page] = render(model, _coverage.REASONS, sorted(texts))
        write_files(texts)

    # the action's own setting for the collector, where it has one (laptop_coverage runs the stage under it)
    with getattr(_coverage, 'collector_paused', contextlib.nullcontext)():
        read_times = measured(read)
        render_times = measured(rendering)
    print(json.dumps({'read': read_times, 'render': render_times, 'state': loaded['state'], 'load': load()}))
    subprocess.run(['rm', '-rf', str(base)], check=False)


def report_in_a_process(tree, store, now, days, out):
    out.mkdir()
    proc = subprocess.run([sys.executable, __file__, '--run-report', str(tree), '--store', str(store), '--now', now, '--days', str(days),
                           '--out', str(out)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit('the report with %s failed:\n%s' % (tree, proc.stderr[-3000:]))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def seconds(times):
    return '%.2f s (CPU %.2f s)' % tuple(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--devices', type=int, default=100000)
    parser.add_argument('--days', type=int, default=365)
    parser.add_argument('--changed', type=int, default=1000, help='records a cycle rewrites between two reports')
    parser.add_argument('--baseline', type=Path, help='a checkout of an earlier commit to run the same report with')
    parser.add_argument('--run-report', metavar='TREE', help=argparse.SUPPRESS)
    parser.add_argument('--store', help=argparse.SUPPRESS)
    parser.add_argument('--now', help=argparse.SUPPRESS)
    parser.add_argument('--out', help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run_report:
        return run_report(argparse.Namespace(tree=args.run_report, store=args.store, now=args.now, days=args.days, out=args.out))
    if args.baseline is not None and not (args.baseline / 'plugins' / 'plugin_utils' / '_coverage.py').is_file():
        parser.error('--baseline %s is no checkout of this collection with the coverage report' % args.baseline)
    base = Path(tempfile.mkdtemp(prefix='roamscan-bench-report-'))
    load_collection(base)
    # pylint: disable=import-outside-toplevel
    import jinja2
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._coverage import collector_paused
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import HISTORY_KEY, fold_cycle, history_value
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import open_store
    from legacy_records import legacy_cache, legacy_write, write_behind
    from report_fleet import fleet, history

    print('load average at the start: %s (1, 5, 15 min) on %d cores' % (load(), os.cpu_count()))
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    now_text = now.strftime('%Y-%m-%dT%H:%M:%SZ')
    facts = base / 'facts'
    settings_store = {'plugin': 'ansible.builtin.jsonfile', 'connection': str(facts), 'timeout': 0}
    started = time.monotonic()
    records = fleet(args.devices, now)
    cache = legacy_write(records, legacy_cache('ansible.builtin.jsonfile', _uri=str(facts), _timeout=0))
    cache.set(HISTORY_KEY, history_value(history(args.days, now, args.devices)))
    print('seeded %d devices and %d days of history in %.1f s' % (args.devices, args.days, time.monotonic() - started))
    open_store(settings_store).all()   # the first use builds the store's index: no timing below pays for it
    loaded = {}

    def read_store(snapshot=False):
        with collector_paused():
            store = open_store(settings_store)
            loaded.update(records=store.all(snapshot=snapshot), state=store.snapshot_state)

    every_record = measured(read_store)
    first_snapshot = measured(lambda: read_store(snapshot=True))   # reads every record, writes the snapshot
    print('reading the store, every record (a first report): %s; the first report snapshot (every record read, '
          'snapshot written): %s' % (seconds(every_record), seconds(first_snapshot)))
    changed = dict(list(records.items())[:args.changed])
    for record in changed.values():
        record['last_seen'] = now_text
    write_behind(changed, cache)   # a cycle's writes between two reports
    del records, changed

    runs = {}
    for name, tree in ([('baseline', args.baseline)] if args.baseline else []) + [('this tree', ROOT)]:
        runs[name] = report_in_a_process(tree, facts, now_text, args.days, base / ('out-' + name.replace(' ', '-')))
        run = runs[name]
        total = [read + render for read, render in zip(run['read'], run['render'])]
        run['total'] = total
        print('%-9s (%s): the report after a cycle rewrote %d records: snapshot read (%s) %s + rendering (numbers, page, 4 exports '
              'written) %s = %s%s; load average %s'
              % (name, tree, args.changed, run['state'], seconds(run['read']), seconds(run['render']), seconds(total),
                 ' (goal <= 10 s)' if name == 'this tree' else '', run['load']))
    states = {run['state'] for run in runs.values()}
    assert states == {'read %d changed records' % args.changed}, states
    if 'baseline' in runs:
        new, old = runs['this tree'], runs['baseline']
        print('ratio this tree / baseline (same run): rendering %.2f (CPU %.2f), snapshot read %.2f (CPU %.2f), end to end %.2f (CPU %.2f)'
              % tuple(new[part][clock] / old[part][clock] for part in ('render', 'read', 'total') for clock in (0, 1)))

    previous = previous_report()
    if previous is not None:
        coverage, template = previous

        def old_report():
            found = loaded['records']
            result = {'coverage': coverage(found, now_text, args.days, 30), 'counts': {'known': len(found)}, 'now': now_text, 'rescan_days': 30}
            (base / 'old.html').write_text(jinja2.Template(template, autoescape=False).render(roamscan_report=result))

        old_page = measured(old_report)
        print("rendering the report before this one (coverage list, Jinja page; no exports): %s; ratio this tree's rendering / it: %.2f"
              % (seconds(old_page), runs['this tree']['render'][0] / old_page[0]))
    out = base / 'out-this-tree'
    print('files: %s' % ', '.join('%s %.1f MB' % (path.name, path.stat().st_size / 1e6) for path in sorted(out.iterdir())))

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
    print('load average at the end: %s' % load())
    subprocess.run(['rm', '-rf', str(base)], check=False)
    return None


if __name__ == '__main__':
    main()
