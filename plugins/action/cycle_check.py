# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_check (documented in plugins/modules/cycle_check.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase


class ActionModule(CycleActionBase):

    LAUNCH_SETTINGS = True

    def run_stage(self, stage):
        groups = stage.alias_groups()
        return {'fact_cache': stage.store.name, 'dhcp_servers': stage.dhcp_servers(),
                'device_aliases': {'devices': len(groups), 'skipped': stage.alias_skipped}}
