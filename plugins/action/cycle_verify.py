# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_verify (documented in plugins/modules/cycle_verify.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _remember
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError, registered_ok
from ansible_collections.roamscan.qualys.plugins.plugin_utils._launch import record_intent
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
        }},
        'leases': {'type': 'dict', 'required': True},
    }

    def run_stage(self, stage):
        title, targets = stage.args['plan']['title'], stage.args['plan']['targets']
        named = _remember.named_reports(fresh_reports(stage.args['leases']))
        macs, ips = _remember.macs_observed(named)
        macs |= {target['mac'] for target in targets if isinstance(target.get('mac'), str)}
        stage.load(stage.store.get(macs | set(stage.store.holders(ips).values())))
        changed, dummy = _remember.fold(stage.records, named)
        stage.mark_changed(changed)
        changed, launch, dropped = record_intent(stage.records, title, targets, _remember.lease_holders(named), stage.now)
        stage.mark_changed(changed)
        plan = stage.args['plan']
        # a resumed intent's scan may exist in any state by now: the launch must look for it, not launch again
        resume = {'title': title, 'since': plan['intended_at']} if plan['resumed'] and plan['intended_at'] else None
        return {'launch': {'title': title, 'targets': launch, 'dropped': dropped, 'resume': resume},
                'launch_options': launch_options(stage.settings)}
