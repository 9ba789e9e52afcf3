# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_confirm (documented in plugins/modules/cycle_confirm.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._budget import host_list_wanted, launch_decision, lead_seconds
from ansible_collections.roamscan.qualys.plugins.plugin_utils._confirm import confirm
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, registered_ok
from ansible_collections.roamscan.qualys.plugins.plugin_utils._decide import candidates, host_list_entry
from ansible_collections.roamscan.qualys.plugins.plugin_utils._departure import rank


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
        settings, state = stage.settings, stage.budget()
        due = candidates(records, stage.now, settings['rescan_days'], devices, settings['credit_log_presence'])
        due = rank(due, records, stage.now, lead_seconds(state, settings, len(due)))
        # the host list is read only for a cycle that will launch, and only for dates not cached
        gate = launch_decision(state, due, stage.now, settings)
        lookup, deferred = [], [gate] if gate else []
        if settings['use_qualys_host_list'] and due and not gate:
            lookup, why = host_list_wanted(state, [host_list_entry(item) for item in due], stage.now, settings)
            deferred += [why] if why else []
        return {'confirmed': outcome, 'host_list_lookup': lookup, 'rescan_days': settings['rescan_days'],
                'launch_gate': gate, 'deferred': deferred}
