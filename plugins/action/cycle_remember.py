# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_remember (documented in plugins/modules/cycle_remember.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _remember
from ansible_collections.roamscan.qualys.plugins.plugin_utils._budget import pending_scans, poll_decision
from ansible_collections.roamscan.qualys.plugins.plugin_utils._confirm import pending_scan_refs
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import add_links, authenticated_links
from ansible_collections.roamscan.qualys.plugins.plugin_utils._summary import acknowledgements


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {'collected': {'type': 'str', 'default': 'roamscan_collected'}}

    def run_stage(self, stage):
        self._reports, not_reported = stage.presence_reports(stage.args['collected'])
        named = _remember.named_reports(self._reports)
        keys, ips = _remember.identities_observed(named)
        others = _remember.identity_observations(named)
        stage.load(stage.store.get(keys | stage.store.holder_keys(ips)))
        changed, skipped = _remember.fold(stage.records, named)
        stage.mark_changed(changed)
        stage.mark_changed(add_links(stage.records, authenticated_links(others, stage.records)))
        spool_lines = _remember.corrupt_spool_lines(self._reports)
        if skipped:
            stage.warnings.append('Skipped %d unusable presence observation(s) or table row(s); see "unusable".' % len(skipped))
        stage.warnings += ['Presence host %s: presence_events skipped %d corrupt spool line(s) (%s)'
                           % (server, lines['count'], ', '.join('%s: %s' % item for item in sorted(lines['reasons'].items())))
                           for server, lines in sorted(spool_lines.items())]
        working = dict(stage.store.working_set(), **stage.records)
        pending = pending_scans(working)
        poll, deferred = poll_decision(stage.budget(), pending, stage.now, stage.settings)
        return {'pending_scans': pending, 'poll_scan_refs': [item['ref'] for item in pending] if poll else [],
                'deferred': [deferred] if deferred else [],
                'servers': sorted({host for host, dummy in self._reports}), 'not_reported': not_reported, 'unusable': skipped,
                'live_tables': _remember.live_tables(self._reports),
                'corrupt': list(stage.store.corrupt), 'corrupt_spool_lines': spool_lines,
                'pending_scan_refs': pending_scan_refs(working),
                'other_identities': len(others)}

    def after_save(self, stage, stored):
        return {'acknowledge': acknowledgements(self._reports, stored)}
