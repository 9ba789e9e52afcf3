# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_confirm (documented in plugins/modules/cycle_confirm.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._confirm import confirm
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, registered_ok
from ansible_collections.roamscan.qualys.plugins.plugin_utils._decide import host_list_hosts


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {'scan_status': {'type': 'dict', 'default': {}}}

    def run_stage(self, stage):
        status = stage.args['scan_status']
        scans = status.get('scans') or [] if registered_ok(status) else []
        records = stage.load(stage.store.working_set())
        devices = stage.devices()
        changed, outcome = confirm(records, scans, stage.now, stage.settings['abandon_after_hours'], devices)
        stage.mark_changed(changed)
        stage.warnings += ['Abandoned pending scan %s for %s (%s): %s' % (item['scan_ref'], item['identity'], item['ip'], item['reason'])
                           for item in outcome['abandoned']]
        settings = stage.settings
        lookup = (host_list_hosts(records, stage.now, settings['rescan_days'], devices, settings['credit_log_presence'])
                  if settings['use_qualys_host_list'] else [])
        return {'confirmed': outcome, 'host_list_lookup': lookup, 'rescan_days': stage.settings['rescan_days']}
