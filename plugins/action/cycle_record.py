# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_record (documented in plugins/modules/cycle_record.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError
from ansible_collections.roamscan.qualys.plugins.plugin_utils._launch import record_launch


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {
        'title': {'type': 'str', 'required': True},
        'launched': {'type': 'dict', 'required': True},
    }

    def run_stage(self, stage):
        scans = stage.args['launched'].get('scans')
        if not isinstance(scans, list):
            raise CycleError('launched must be the registered result of qualys_scan_launch (it has no scans list)')
        if self._task.check_mode:
            # nothing was launched: the intents stay, as pending laptops, for the summary to count
            return {'launch': {'title': stage.args['title'], 'recorded': [], 'missing': []}}
        records = stage.load(stage.store.working_set())
        changed, recorded, missing = record_launch(records, stage.args['title'], scans)
        stage.mark_changed(changed)
        return {'launch': {'title': stage.args['title'], 'recorded': recorded, 'missing': missing}}
