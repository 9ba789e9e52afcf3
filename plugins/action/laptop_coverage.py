# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.laptop_coverage (documented in plugins/modules/laptop_coverage.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._coverage import coverage
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase
from ansible_collections.roamscan.qualys.plugins.plugin_utils._summary import counts


class ActionModule(CycleActionBase):

    def run_stage(self, stage):
        records = stage.store.all()
        settings = stage.settings
        return {'coverage': coverage(records, stage.now, settings['report_days'], settings['rescan_days']),
                'counts': counts(records, stage.now, settings['rescan_days']), 'rescan_days': settings['rescan_days']}
