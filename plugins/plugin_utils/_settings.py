# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan cycle's settings: their variable names, defaults and validation, in one place.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

The stage actions read the settings from the task's variables, so Ansible's precedence decides
(inventory, group_vars, host_vars of localhost, play vars, extra vars); the playbooks set none.
"""

from __future__ import annotations

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.roamscan.qualys.plugins.module_utils._scan_choice import InvalidScanChoice, check_scan_choice
from ansible_collections.roamscan.qualys.plugins.plugin_utils._liveness_check import InvalidProbeRoutes, parse_routes

FACT_CACHE_OPTIONS = {
    'plugin': {'type': 'str', 'required': True},
    'connection': {'type': 'str'},
    'timeout': {'type': 'int', 'default': 0},
    'prefix': {'type': 'str'},
}

# setting: (variable, argument spec of its value)
SETTINGS = {
    'rescan_days': ('roamscan_rescan_days', {'type': 'int', 'default': 30}),
    'max_hosts_per_cycle': ('roamscan_max_hosts_per_cycle', {'type': 'int', 'default': 500}),
    'max_active_scans': ('roamscan_max_active_scans', {'type': 'int', 'default': 1}),
    'abandon_after_hours': ('roamscan_abandon_after_hours', {'type': 'int', 'default': 24}),
    'title_prefix': ('roamscan_scan_title_prefix', {'type': 'str', 'default': 'roamscan'}),
    'fact_cache': ('roamscan_fact_cache', {'type': 'dict', 'options': FACT_CACHE_OPTIONS}),
    'dhcp_group': ('roamscan_dhcp_group', {'type': 'str', 'default': 'dhcp_servers'}),
    'vpn_group': ('roamscan_vpn_group', {'type': 'str', 'default': 'vpn_servers'}),
    # a holding known only from a log (no live table to re-read before the launch) is scanned and credited only if allowed
    'credit_log_presence': ('roamscan_credit_log_presence', {'type': 'bool', 'default': False}),
    'use_qualys_host_list': ('roamscan_use_qualys_host_list', {'type': 'bool', 'default': True}),
    # a cycle that made no other Qualys call proves the login with one (qualys_login_check)
    'credential_check': ('roamscan_credential_check', {'type': 'bool', 'default': True}),
    'report_days': ('roamscan_report_days', {'type': 'int', 'default': 30}),
    'liveness_probe': ('roamscan_liveness_probe', {'type': 'bool', 'default': False}),
    'probe_routes': ('roamscan_probe_routes', {'type': 'dict', 'default': {}}),
    'history_days': ('roamscan_history_days', {'type': 'int', 'default': 400}),
    'report_site': ('roamscan_report_site', {'type': 'str'}),
    'report_source': ('roamscan_report_source', {'type': 'str'}),
    'report_group': ('roamscan_report_group', {'type': 'str'}),
    'api_allowance': ('roamscan_api_allowance_per_day', {'type': 'int', 'default': 7200}),
    'due_soon_days': ('roamscan_report_due_soon_days', {'type': 'int', 'default': 7}),
    'device_aliases': ('roamscan_device_aliases', {'type': 'raw', 'default': []}),
    'device_aliases_file': ('roamscan_device_aliases_file', {'type': 'path'}),
    # one cycle at a time per store (_store_lock.py): the lease outlives a slow cycle and every stage renews it
    'cycle_lock_seconds': ('roamscan_cycle_lock_seconds', {'type': 'int', 'default': 1800}),
    'when_locked': ('roamscan_when_locked', {'type': 'str', 'default': 'skip', 'choices': ['skip', 'fail']}),
    # the API budget governor (_budget.py): a share of each API's limit left to other tools, own caps per API and
    # window, batching of launches, and what it learns from
    'api_reserve_percent': ('roamscan_api_reserve_percent', {'type': 'int', 'default': 10}),
    'api_budgets': ('roamscan_api_budgets', {'type': 'dict', 'default': {}}),
    'batch_min_targets': ('roamscan_batch_min_targets', {'type': 'int', 'default': 1}),
    'batch_max_wait_minutes': ('roamscan_batch_max_wait_minutes', {'type': 'int', 'default': 60}),
    'batch_leave_risk': ('roamscan_batch_leave_risk', {'type': 'float', 'default': 0.2}),
    'scan_pickup_seconds': ('roamscan_scan_pickup_seconds', {'type': 'int', 'default': 190}),
    'host_list_cache_hours': ('roamscan_host_list_cache_hours', {'type': 'int', 'default': 24}),
    # qualys_scan_launch's options, by their names there
    'option_profile': ('roamscan_option_profile', {'type': 'str'}),
    'option_profile_id': ('roamscan_option_profile_id', {'type': 'int'}),
    'scanner': ('roamscan_scanner', {'type': 'list', 'elements': 'str'}),
    'scanner_ids': ('roamscan_scanner_ids', {'type': 'list', 'elements': 'int'}),
    'default_scanner': ('roamscan_default_scanner', {'type': 'bool', 'default': False}),
    'scanners_in_ag': ('roamscan_scanners_in_ag', {'type': 'bool', 'default': False}),
    'external_scanners': ('roamscan_external_scanners', {'type': 'bool', 'default': False}),
    'priority': ('roamscan_scan_priority', {'type': 'int'}),
    'max_targets_per_scan': ('roamscan_max_targets_per_scan', {'type': 'int'}),
}
AT_LEAST_ONE = ('rescan_days', 'max_hosts_per_cycle', 'max_active_scans', 'abandon_after_hours', 'report_days', 'history_days',
                'api_allowance', 'due_soon_days', 'cycle_lock_seconds', 'batch_min_targets')
# settings that may be 0 but never negative, and their upper bound (None: none)
BOUNDED = {'api_reserve_percent': 90, 'batch_max_wait_minutes': None, 'scan_pickup_seconds': None,
           'host_list_cache_hours': None, 'batch_leave_risk': 1}
BUDGET_APIS = ('scan_launch', 'scan_list', 'scan_fetch', 'host_list')
LAUNCH_OPTIONS = ('option_profile', 'option_profile_id', 'scanner', 'scanner_ids', 'default_scanner', 'scanners_in_ag',
                  'external_scanners', 'priority', 'max_targets_per_scan')
VARIABLES = {setting: variable for setting, (variable, dummy) in SETTINGS.items()}


class InvalidSettings(ValueError):
    """Cycle settings that cannot be used; the message names the variables."""


def read_settings(variables, launch=False):
    """The cycle's settings ``{setting: value}`` from ``variables`` (rendered task variables), defaults filled in.

    With ``launch`` the option profile and scanner choice must also be one qualys_scan_launch accepts.
    Raises InvalidSettings naming every problem.
    """
    spec = {variable: dict(option) for variable, option in SETTINGS.values()}
    given = {variable: variables[variable] for variable in spec if variables.get(variable) is not None}
    result = ArgumentSpecValidator(spec).validate(given)
    if result.error_messages:
        raise InvalidSettings('invalid roamscan settings: %s' % '; '.join(result.error_messages))
    values = {setting: result.validated_parameters[variable] for setting, variable in VARIABLES.items()}
    low = ['%s must be at least 1, got %d' % (VARIABLES[name], values[name]) for name in AT_LEAST_ONE if values[name] < 1]
    low += ['%s must be from 0 to %s, got %s' % (VARIABLES[name], top if top is not None else 'any', values[name])
            for name, top in BOUNDED.items() if values[name] < 0 or (top is not None and values[name] > top)]
    low += _budget_problems(values['api_budgets'])
    if low:
        raise InvalidSettings('invalid roamscan settings: %s' % '; '.join(low))
    try:
        parse_routes(values['probe_routes'])
    except InvalidProbeRoutes as exc:
        raise InvalidSettings('invalid roamscan settings: %s' % exc) from None
    if launch:
        try:
            check_scan_choice(values, VARIABLES)
        except InvalidScanChoice as exc:
            raise InvalidSettings('invalid roamscan scan settings: %s' % exc) from None
    return values


def _budget_problems(budgets):
    problems = ['roamscan_api_budgets: unknown API %r (known: %s)' % (api, ', '.join(BUDGET_APIS))
                for api in sorted(budgets, key=str) if api not in BUDGET_APIS]
    problems += ['roamscan_api_budgets.%s must be a number of calls of 0 or more, got %r' % (api, calls)
                 for api, calls in sorted(budgets.items(), key=str) if api in BUDGET_APIS
                 and (isinstance(calls, bool) or not isinstance(calls, int) or calls < 0)]
    return problems


def launch_options(settings):
    """qualys_scan_launch's options from the settings (unset ones left out)."""
    return {name: settings[name] for name in LAUNCH_OPTIONS if settings[name] is not None}
