# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_record (documented in plugins/modules/cycle_record.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError
from ansible_collections.roamscan.qualys.plugins.plugin_utils._launch import record_launch


def launched_scans(launched, title):
    """``[(title, scans)]`` of a registered qualys_scan_launch result (its intents' ``title`` given) or of a
    qualys_scan_launch loop over cycle_verify's ``launches`` (each ``item`` has its title)."""
    results = launched.get('results')
    if isinstance(results, list):
        pairs = []
        for result in results:
            group = result.get('item') if isinstance(result, dict) else None
            if not isinstance(group, dict) or not isinstance(group.get('title'), str) or result.get('skipped'):
                continue
            if not isinstance(result.get('scans'), list):
                raise CycleError('launched: the launch of %s returned no scans list' % group['title'])
            pairs.append((group['title'], result['scans']))
        return pairs
    if not isinstance(launched.get('scans'), list):
        raise CycleError('launched must be the registered result of qualys_scan_launch (it has no scans list)')
    if not title:
        raise CycleError('title is required with a single qualys_scan_launch result')
    return [(title, launched['scans'])]


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {
        'title': {'type': 'str'},
        'launched': {'type': 'dict', 'required': True},
    }

    def run_stage(self, stage):
        launches = launched_scans(stage.args['launched'], stage.args['title'])
        result = {'title': stage.args['title'] or (launches[0][0] if launches else None),
                  'titles': [title for title, dummy in launches], 'recorded': [], 'missing': []}
        if self._task.check_mode:
            # nothing was launched: the intents stay, as pending laptops, for the summary to count
            return {'launch': result}
        records = stage.load(stage.store.working_set())
        for title, scans in launches:
            changed, recorded, missing = record_launch(records, title, scans)
            stage.mark_changed(changed)
            result['recorded'] += recorded
            result['missing'] += missing
        return {'launch': result}
