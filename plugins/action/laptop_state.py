# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.laptop_state: the laptop records in the fact cache.

Runs on the controller only (the records are the controller's fact cache). Documentation is in
plugins/modules/laptop_state.py.
"""

from __future__ import annotations

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.roamscan.qualys.plugins.module_utils import planner
from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import mac_from_host
from ansible_collections.roamscan.qualys.plugins.module_utils._time import now as time_now
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import StoreError, UnsafeFactCache, open_store

ARGUMENT_SPEC = {
    'observe': {'type': 'dict', 'default': {}},
    'scan_status': {'type': 'list', 'elements': 'dict'},
    'last_scanned': {'type': 'list', 'elements': 'dict'},
    'intend': {'type': 'dict', 'options': {
        'title': {'type': 'str', 'required': True},
        'targets': {'type': 'list', 'elements': 'dict', 'required': True},
        'leases': {'type': 'dict', 'required': True},
    }},
    'launched': {'type': 'dict', 'options': {
        'title': {'type': 'str', 'required': True},
        'scans': {'type': 'list', 'elements': 'dict', 'required': True},
    }},
    'plan': {'type': 'bool', 'default': False},
    'coverage_days': {'type': 'int'},
    'rescan_days': {'type': 'int', 'default': 30},
    'max_hosts_per_cycle': {'type': 'int', 'default': 500},
    'max_active_scans': {'type': 'int', 'default': 1},
    'abandon_after_hours': {'type': 'int', 'default': 24},
    'title_prefix': {'type': 'str', 'default': 'roamscan'},
    'fact_cache': {'type': 'dict', 'options': {
        'plugin': {'type': 'str', 'required': True},
        'connection': {'type': 'str'},
        'timeout': {'type': 'int', 'default': 0},
        'prefix': {'type': 'str'},
    }},
}


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        dummy, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        for name in ('rescan_days', 'max_hosts_per_cycle', 'max_active_scans', 'abandon_after_hours', 'coverage_days'):
            if args[name] is not None and args[name] < 1:
                result.update(failed=True, msg='%s must be at least 1, got %d' % (name, args[name]))
                return result
        requested = (args['observe'] or args['scan_status'] is not None or args['last_scanned'] is not None
                     or args['intend'] or args['launched'] or args['plan'] or args['coverage_days'])
        try:
            store = open_store(settings=args['fact_cache'])
            if not requested:
                result['fact_cache'] = store.name
                return result
            records, corrupt = store.all(), store.corrupt
        except UnsafeFactCache as exc:
            result.update(failed=True, msg=to_text(exc))
            return result
        except StoreError as exc:
            result.update(failed=True, msg='Cannot read laptop records from the fact cache: %s' % to_text(exc))
            return result

        cycle = _Cycle(records, corrupt, args, time_now())
        cycle.run()
        stored = 0
        if cycle.changed and not self._task.check_mode:
            try:
                stored = store.save(records, cycle.changed)
            except StoreError as exc:
                result.update(failed=True, msg=to_text(exc))
                return result
        result.update(cycle.report())
        result['stored'] = stored
        result['changed'] = bool(cycle.changed)
        warnings = ['Skipped corrupt fact cache entry %s: %s' % (item['host'], item['error']) for item in corrupt]
        warnings += ['Abandoned pending scan %s for %s (%s): %s' % (item['scan_ref'], item['mac'], item['ip'], item['reason'])
                     for item in cycle.confirmed['abandoned']]
        if cycle.skipped:
            warnings.append('Skipped %d unusable DHCP event(s) or lease(s); see "unusable".' % len(cycle.skipped))
        warnings += ['DHCP server %s: lease_events skipped %d corrupt spool line(s) (%s)'
                     % (server, lines['count'], ', '.join('%s: %s' % item for item in sorted(lines['reasons'].items())))
                     for server, lines in sorted(cycle.corrupt_spool_lines.items())]
        if warnings:
            result['warnings'] = warnings
        return result


def _named(reports):
    """``{server name: lease_events result}`` as the planner's list, each result knowing its server."""
    named = []
    for name in sorted(reports):
        report = reports[name]
        named.append(dict(report, server_name=name) if isinstance(report, dict) else {'server_name': name})
    return named


def _corrupt_spool_lines(reports):
    """``{server: skipped_lines}`` of the lease_events results that skipped corrupt spool lines."""
    found = {}
    for name, report in reports.items():
        lines = report.get('skipped_lines') if isinstance(report, dict) else None
        if isinstance(lines, dict) and lines.get('count'):
            found[name] = {'count': lines['count'], 'reasons': dict(lines.get('reasons') or {})}
    return found


class _Cycle:
    """One call's steps, in cycle order, over records loaded once."""

    def __init__(self, records, corrupt, args, now):
        self.records = records
        self.blocked = {mac_from_host(item['host']) for item in corrupt}
        self.corrupt = corrupt
        self.args = args
        self.now = now
        self.changed = set()
        self.skipped = []
        self.corrupt_spool_lines = {}
        self.merged = []
        self.confirmed = {'credited': [], 'not_credited': [], 'abandoned': []}
        self.launch = None
        self.plan = None
        self.coverage = None

    def _fold(self, reports):
        changed, skipped = planner.fold(self.records, _named(reports))
        for mac in self.blocked & changed:
            # never overwrite an entry we could not read; it stays reported until someone fixes it
            self.records.pop(mac, None)
        self.changed |= changed - self.blocked
        self.skipped.extend(skipped)

    def run(self):
        args = self.args
        if args['observe']:
            self._fold(args['observe'])
            self.corrupt_spool_lines = _corrupt_spool_lines(args['observe'])
        if args['scan_status'] is not None:
            changed, self.confirmed = planner.confirm(self.records, args['scan_status'], self.now, args['abandon_after_hours'])
            self.changed |= changed
        if args['last_scanned'] is not None:
            changed, self.merged = planner.merge_last_scanned(self.records, args['last_scanned'], self.now)
            self.changed |= changed
        if args['intend']:
            intend = args['intend']
            self._fold(intend['leases'])
            holders = planner.lease_holders(_named(intend['leases']))
            changed, launch, dropped = planner.record_intent(self.records, intend['title'], intend['targets'], holders, self.now)
            self.changed |= changed
            self.launch = {'title': intend['title'], 'targets': launch, 'dropped': dropped}
        if args['launched']:
            changed, recorded, missing = planner.record_launch(self.records, args['launched']['title'], args['launched']['scans'])
            self.changed |= changed
            self.launch = {'title': args['launched']['title'], 'recorded': recorded, 'missing': missing}
        if args['coverage_days']:
            self.coverage = planner.coverage(self.records, self.now, args['coverage_days'], args['rescan_days'])
        if args['plan']:
            self.plan = planner.plan(self.records, self.now, args['rescan_days'], args['max_hosts_per_cycle'],
                                     args['max_active_scans'], args['title_prefix'])

    def report(self):
        pending_refs = sorted({r['pending']['scan_ref'] for r in self.records.values() if r.get('pending') and r['pending'].get('scan_ref')})
        candidates = [{key: item[key] for key in ('ip', 'mac', 'last_scanned', 'held_since')}
                      for item in planner.candidates(self.records, self.now, self.args['rescan_days'])]
        return {
            'now': self.now,
            'counts': planner.summary(self.records, self.now, self.args['rescan_days']),
            'corrupt': self.corrupt,
            'unusable': self.skipped,
            'corrupt_spool_lines': self.corrupt_spool_lines,
            'updated': len(self.changed),
            'pending_scan_refs': pending_refs,
            'candidates': candidates,
            'confirmed': self.confirmed,
            'merged': self.merged,
            'plan': self.plan,
            'launch': self.launch,
            'coverage': self.coverage,
        }
