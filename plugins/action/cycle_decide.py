# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_decide (documented in plugins/modules/cycle_decide.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _decide
from ansible_collections.roamscan.qualys.plugins.plugin_utils._budget import held_plan, launch_decision, lead_seconds, login_check_wanted
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, registered_ok
from ansible_collections.roamscan.qualys.plugins.plugin_utils._departure import rank
from ansible_collections.roamscan.qualys.plugins.plugin_utils._liveness_check import parse_routes, probe_plan


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {'last_scanned': {'type': 'dict', 'default': {}}}

    def run_stage(self, stage):
        found = stage.args['last_scanned']
        hosts = found.get('hosts') or [] if registered_ok(found) else []
        records = stage.load(stage.store.working_set())
        devices = stage.devices()
        changed, merged = _decide.credit_host_list(records, hosts, stage.now)
        stage.mark_changed(changed)
        settings, state = stage.settings, stage.budget()
        ranked = []

        def by_risk(due):
            ranked[:] = rank(due, records, stage.now, lead_seconds(state, settings, len(due)))
            return ranked

        plan = _decide.plan(records, stage.now, settings['rescan_days'], settings['max_hosts_per_cycle'],
                            settings['max_active_scans'], settings['title_prefix'], devices,
                            settings['credit_log_presence'], rank=by_risk)
        if plan['targets']:
            # confirm let this batch go (and looked its dates up), or it resumes an intent: only the budget can stop it
            confirmed = stage.registered('roamscan_confirmed')
            batching = not plan['resumed'] and not (isinstance(confirmed, dict) and 'launch_gate' in confirmed
                                                    and confirmed['launch_gate'] is None)
            why = launch_decision(state, ranked or plan['targets'], stage.now, settings, batching=batching)
            if why:
                plan = held_plan(plan, ranked or plan['targets'], why)
        # a resumed intent's scan may exist already: it launches what it intended, unprobed
        if settings['liveness_probe'] and plan['targets'] and not plan['resumed']:
            plan['probes'], plan['unprobed'] = probe_plan(
                plan['targets'], parse_routes(settings['probe_routes']), records,
                lambda host: stage.host_variable(host, 'roamscan_probe_interface'))
        return {'merged': merged, 'plan': plan, 'credential_check': login_check_wanted(state, stage.now, settings),
                'candidates': _decide.host_list_hosts(records, stage.now, settings['rescan_days'], devices,
                                                      settings['credit_log_presence'])}
