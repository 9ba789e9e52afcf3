# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_verify (documented in plugins/modules/cycle_verify.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _remember
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError, registered_ok
from ansible_collections.roamscan.qualys.plugins.plugin_utils._launch import record_intent
from ansible_collections.roamscan.qualys.plugins.plugin_utils._liveness_check import apply_probe, probe_costs, probe_reports
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import launch_options


def fresh_reports(leases):
    """``{server: lease_events result}`` of a registered loop (``item`` = server) over the DHCP servers."""
    if not isinstance(leases, dict) or not isinstance(leases.get('results'), list):
        raise CycleError('leases must be the registered result of lease_events looped over the DHCP servers')
    return {item['item']: item for item in leases['results'] if registered_ok(item) and isinstance(item.get('item'), str)}


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
        'leases': {'type': 'dict'},
        'leases_from': {'type': 'str'},
        'probes': {'type': 'dict'},
    }

    def run_stage(self, stage):
        title, targets = stage.args['plan']['title'], stage.args['plan']['targets']
        if (stage.args['leases'] is None) == (stage.args['leases_from'] is None):
            raise CycleError('give leases (a registered loop over the DHCP servers) or leases_from (the name the DHCP '
                             'servers registered their lease_events result in), one of them')
        if stage.args['leases'] is not None:
            fresh = fresh_reports(stage.args['leases'])
        else:
            fresh, dummy = stage.server_results(stage.args['leases_from'], 'lease_events')
        named = _remember.named_reports(fresh)
        macs, ips = _remember.macs_observed(named)
        macs |= {target['mac'] for target in targets if isinstance(target.get('mac'), str)}
        stage.load(stage.store.get(macs | set(stage.store.holders(ips).values())))
        changed, dummy = _remember.fold(stage.records, named)
        stage.mark_changed(changed)
        holders = _remember.lease_holders(named)
        plan = stage.args['plan']
        probed, probe_dropped, not_probed, costs = targets, [], [], None
        if plan.get('probes') is not None:
            results, unprobed = probe_reports(stage.args['probes'])
            probed, probe_dropped, not_probed = apply_probe(targets, results, dict(plan.get('unprobed') or {}, **unprobed))
            # a target no longer leased is dropped as such, whatever the probe saw
            probed += [item for item in probe_dropped if holders.get(item['ip']) != item['mac']]
            probe_dropped = [item for item in probe_dropped if holders.get(item['ip']) == item['mac']]
            costs = probe_costs(stage.args['probes'])
        changed, launch, dropped = record_intent(stage.records, title, probed, holders, stage.now)
        stage.mark_changed(changed)
        # a resumed intent's scan may exist in any state by now: the launch must look for it, not launch again
        resume = {'title': title, 'since': plan['intended_at']} if plan['resumed'] and plan['intended_at'] else None
        return {'launch': {'title': title, 'targets': launch, 'dropped': dropped + probe_dropped, 'resume': resume,
                           'not_probed': not_probed},
                'liveness_probe': costs,
                'launch_options': launch_options(stage.settings)}
