# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_summary (documented in plugins/modules/cycle_summary.py)."""

from __future__ import annotations

import copy

from ansible_collections.roamscan.qualys.plugins.plugin_utils._budget import (
    BUDGET_KEY, QUALYS_RESULTS, InvalidBudget, fold_cycle as fold_budget, parse_budget, usage_left)
from ansible_collections.roamscan.qualys.plugins.plugin_utils._check_mode import WouldBeStore, would_do
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CHECKED_RESULT, CycleActionBase, CycleError, registered_ok
from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import (
    API_OF_MODULE, HISTORY_KEY, InvalidHistory, cycle_api_calls, fold_cycle, history_value, parse_history)
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import StoreError, open_store
from ansible_collections.roamscan.qualys.plugins.plugin_utils._summary import counts, cycle_summary, failure_of, stage_of

STAGE_RESULTS = {'remember': 'roamscan_remembered', 'confirm': 'roamscan_confirmed', 'decide': 'roamscan_plan',
                 'verify': 'roamscan_intent', 'launch': 'roamscan_launch', 'record': 'roamscan_recorded'}


class ActionModule(CycleActionBase):

    # the summary is shown even when the store is what failed: it opens the store itself
    USES_STORE = False
    SETTINGS_REQUIRED = False
    ARGUMENT_SPEC = {
        'fault': {'type': 'dict'},
        'acknowledged': {'type': 'str', 'default': 'roamscan_acknowledged'},
        'logons_acknowledged': {'type': 'str', 'default': 'roamscan_logons_acknowledged'},
    }

    def run_stage(self, stage):
        results = {name: stage.registered(variable) for name, variable in STAGE_RESULTS.items()}
        fault = stage.args['fault']
        if fault is not None:
            fault = {'stage': fault.get('stage') or stage_of(fault.get('task')), 'task': fault.get('task'), 'msg': fault.get('msg')}
        final, corrupt, store = None, [], None
        if stage.settings_error is None:   # else the store the settings name is unknown
            try:
                store = open_store(stage.settings['fact_cache'], read_only=self._task.check_mode)
                self._renew(store, stage)   # a store without this cycle's lease writes nothing (not even its index)
                counted = store if stage.would_store is None else WouldBeStore(store, stage.would_store)
                final = counts(counted.digests(), stage.now, stage.settings['rescan_days'], self._alias_groups(stage))
                corrupt = store.corrupt
            except StoreError as exc:
                stage.warnings.append('Cannot count the laptop records: %s' % exc)
                store = None
        acknowledged, logons_acknowledged = ([host for host in stage.presence_hosts()
                                              if registered_ok(stage.host_variable(host, stage.args[variable], registered=True))]
                                             for variable in ('acknowledged', 'logons_acknowledged'))
        remembered = results['remember'] if isinstance(results['remember'], dict) else {}
        checked = stage.registered(CHECKED_RESULT)
        checked = checked if isinstance(checked, dict) else {}
        summary = cycle_summary(results, final, fault, acknowledged, remembered.get('not_reported'), checked.get('took_over'),
                                logons_acknowledged)
        summary['corrupt_cache_entries'] = list(corrupt) or summary['corrupt_cache_entries']
        elsewhere = checked.get('held_elsewhere')
        summary['skipped'] = 'skipped: %s' % elsewhere['msg'] if elsewhere else None
        summary['check_mode'] = would_do(summary, results) if self._task.check_mode and not elsewhere else None
        summary['deferred'] = [why for name in ('remember', 'confirm') if isinstance(results[name], dict)
                               for why in results[name].get('deferred') or []]
        held = results['decide'].get('plan', {}).get('held') if isinstance(results['decide'], dict) else None
        summary['deferred'] += [held] if held and held not in summary['deferred'] else []
        history_days, summary['api_budget'] = None, None
        # a skipped cycle writes nothing (it called nothing): the running one adds itself to the history and the budget
        if store is not None and final is not None and not self._task.check_mode and not elsewhere:
            history_days = self._append_history(stage, store, summary)
            summary['api_budget'] = self._fold_budget(stage, store)
        if store is not None:
            self._release(store, stage)   # after the history: one writer at a time
        return {'summary': summary, 'history_days': history_days,
                'cycle_failed': bool(summary['fault'] or summary['dhcp_servers_not_reported']), 'failure': failure_of(summary)}

    @staticmethod
    def _alias_groups(stage):
        """The alias list the devices are counted under; an unusable one is a warning (the summary is always shown)."""
        try:
            return stage.alias_groups()
        except CycleError as exc:
            stage.warnings.append('%s; the summary counts every identity as a device of its own' % exc)
            return []

    @staticmethod
    def _append_history(stage, store, summary):
        """Fold this cycle into the store's daily history; a failure is a warning (the cycle's work is stored)."""
        api_calls = cycle_api_calls({variable: stage.registered(variable) for variable in API_OF_MODULE})
        try:
            days = fold_cycle(parse_history(store.read_entry(HISTORY_KEY)), summary, api_calls, stage.now,
                              stage.settings['history_days'])
            store.write_entry(HISTORY_KEY, history_value(days, stage.settings['rescan_days']))
        except (StoreError, InvalidHistory) as exc:
            stage.warnings.append('Cannot add this cycle to the history (%s): %s' % (HISTORY_KEY, exc))
            return None
        return len(days)

    def _renew(self, store, stage):
        """Hold this cycle's lease on ``store`` too; a lease lost by now is a warning (the work is stored or refused)."""
        if self._task.check_mode or not stage.lease():
            return
        try:
            store.renew_lease(stage.lease())
        except StoreError as exc:
            stage.warnings.append('This cycle no longer holds its lease on the laptop store: %s' % exc)

    @staticmethod
    def _fold_budget(stage, store):
        """Keep what this cycle spent and learned in the governor's store entry (fenced by the cycle lease, so a crash
        loses at most this cycle's update and two controllers never overwrite each other's); what is left per API."""
        names = QUALYS_RESULTS + ('roamscan_remembered',)
        try:
            state = parse_budget(store.read_entry(BUDGET_KEY))
            before = copy.deepcopy(state)
            fold_budget(state, {name: stage.registered(name) for name in names}, stage.now, stage.settings)
            if state != before:   # a cycle that called nothing and learned nothing rewrites no entry
                if stage.lease():
                    store.renew_lease(stage.lease())
                store.write_entry(BUDGET_KEY, state, fenced=True)
        except (StoreError, InvalidBudget) as exc:
            stage.warnings.append('Cannot keep this cycle\'s API calls in the budget (%s): %s' % (BUDGET_KEY, exc))
            return None
        return usage_left(state, stage.now, stage.settings)

    def _release(self, store, stage):
        """Give the cycle lease back, so the next cycle need not wait for it to expire."""
        if self._task.check_mode or not stage.lease():
            return
        try:
            if not store.release_lease(stage.lease()):
                stage.warnings.append('This cycle no longer held its lease on the laptop store when it ended')
        except StoreError as exc:
            stage.warnings.append('Cannot release the cycle lease (it expires by itself): %s' % exc)
