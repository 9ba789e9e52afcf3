# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.laptop_coverage (documented in plugins/modules/laptop_coverage.py)."""

from __future__ import annotations

import os

from ansible_collections.roamscan.qualys.plugins.plugin_utils._coverage import REASONS, collector_paused, report
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError
from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import HISTORY_KEY, InvalidHistory, parse_history
from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_export import ReportWriteError, export_paths, exports, write_files
from ansible_collections.roamscan.qualys.plugins.plugin_utils._report_page import render


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {
        'path': {'type': 'path'},
        'exports': {'type': 'bool', 'default': True},
    }

    def run_stage(self, stage):
        with collector_paused():
            return self._report(stage)

    def _report(self, stage):
        # through the store's report snapshot: only records written since the last report are read (none in check mode)
        records = stage.store.all(snapshot=True, refresh=not self._task.check_mode)
        try:
            history = parse_history(stage.store.read_entry(HISTORY_KEY))
        except InvalidHistory as exc:
            stage.warnings.append('%s; the report has no history' % exc)
            history = []
        servers = {record.get('dhcp_server') for record in records.values()} - {None}
        sites = {server: stage.host_variable(server, 'roamscan_site') for server in servers}
        group = stage.settings['report_group']
        group_servers = None if group is None else set((stage.variable('groups') or {}).get(group) or [])
        model = report(records, history, stage.now, stage.settings, sites, group_servers, stage.alias_groups())
        files = {}
        path = stage.args['path']
        if path:
            names = export_paths(path) if stage.args['exports'] else {}
            texts = {name: text for suffix, text in exports(model).items() for name in [names.get(suffix)] if name}
            files = dict({path: render(model, REASONS, [os.path.basename(name) for name in texts])}, **texts)
            if not self._task.check_mode:
                try:
                    write_files(files)
                except ReportWriteError as exc:
                    raise CycleError(str(exc)) from None
        cov = model['coverage']
        return {'coverage': {key: cov[key] for key in ('window_days', 'since', 'seen', 'scanned', 'share')},
                'counts': model['counts'], 'covered_share': model['covered_share'], 'rescan_days': model['rescan_days'],
                'overdue_present': sum(row['present'] for row in model['overdue']), 'overdue_reasons': model['overdue_reasons'],
                'due_soon': len(model['due_soon']), 'history_days': len(model['history']), 'filters': model['filters'],
                'files': sorted(files)}
