# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_verify (documented in plugins/modules/cycle_verify.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _remember
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase
from ansible_collections.roamscan.qualys.plugins.plugin_utils._launch import record_intent
from ansible_collections.roamscan.qualys.plugins.plugin_utils._liveness_check import apply_probe, probe_costs, probe_reports
from ansible_collections.roamscan.qualys.plugins.plugin_utils._scanner_routes import launch_options_for, parse_scanner_routes, route_groups
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import launch_options


class ActionModule(CycleActionBase):

    LAUNCH_SETTINGS = True
    ARGUMENT_SPEC = {
        'plan': {'type': 'dict', 'required': True, 'options': {
            'title': {'type': 'str', 'required': True},
            'targets': {'type': 'list', 'elements': 'dict', 'required': True},
            'held': {'type': 'str'},
            'resumed': {'type': 'bool'},
            'intended_at': {'type': 'str'},
            'held_back': {'type': 'list', 'elements': 'dict'},
            'held_back_count': {'type': 'int'},
            'probes': {'type': 'list', 'elements': 'dict'},
            'unprobed': {'type': 'dict'},
        }},
        'leases_from': {'type': 'str', 'default': 'roamscan_fresh'},
        'probes': {'type': 'dict'},
    }

    def run_stage(self, stage):
        title, targets = stage.args['plan']['title'], stage.args['plan']['targets']
        by_kind, dummy = stage.collected(stage.args['leases_from'])   # a host that failed confirms nothing
        fresh = [item for kind in sorted(by_kind) for item in by_kind[kind]]
        named = _remember.named_reports(fresh)
        keys, ips = _remember.identities_observed(named)
        keys |= {target['identity'] for target in targets if isinstance(target.get('identity'), str)}
        stage.load(stage.store.get(keys | stage.store.holder_keys(ips)))
        changed, dummy = _remember.fold(stage.records, named)
        stage.mark_changed(changed)
        holders = _remember.lease_holders(named)
        plan = stage.args['plan']
        probed, probe_dropped, not_probed, costs = targets, [], [], None
        if plan.get('probes') is not None:
            results, unprobed = probe_reports(stage.args['probes'])
            probed, probe_dropped, not_probed = apply_probe(targets, results, dict(plan.get('unprobed') or {}, **unprobed))
            # a target no longer leased is dropped as such, whatever the probe saw
            probed += [item for item in probe_dropped if item['identity'] not in holders.get(item['ip'], ())]
            probe_dropped = [item for item in probe_dropped if item['identity'] in holders.get(item['ip'], ())]
            costs = probe_costs(stage.args['probes'])
        # one launch per scanner route group, each with its own intent title
        options = launch_options(stage.settings)
        launches, launch, dropped = [], [], []
        for group in route_groups(probed, parse_scanner_routes(stage.settings['scanner_routes']), title):
            changed, group_launch, group_dropped = record_intent(stage.records, group['title'], group['targets'], holders,
                                                                 stage.now, stage.settings['credit_log_presence'])
            stage.mark_changed(changed)
            launch += group_launch
            dropped += group_dropped
            if group_launch:
                launches.append({'title': group['title'], 'targets': group_launch,
                                 'options': launch_options_for(options, group['selector']),
                                 # a resumed intent's scan may exist in any state by now: the launch must look for it
                                 'resume': {'title': group['title'], 'since': plan['intended_at']}
                                 if plan['resumed'] and plan['intended_at'] else None})
        return {'launch': {'title': title, 'targets': launch, 'dropped': dropped + probe_dropped,
                           'resume': launches[0]['resume'] if launches else None, 'not_probed': not_probed},
                'launches': launches,
                'liveness_probe': costs,
                'launch_options': options}
