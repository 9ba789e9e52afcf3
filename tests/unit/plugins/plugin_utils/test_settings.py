# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.doc_fragments.cycle import ModuleDocFragment
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import (
    SETTINGS,
    InvalidSettings,
    launch_options,
    read_settings,
)

SCAN = {'roamscan_option_profile': 'Laptop Light Scan', 'roamscan_scanner': ['laptop_scanner_1']}


def test_defaults_when_nothing_is_set():
    settings = read_settings({})
    assert (settings['rescan_days'], settings['max_hosts_per_cycle'], settings['max_active_scans'],
            settings['abandon_after_hours'], settings['title_prefix'], settings['dhcp_group'],
            settings['use_qualys_host_list'], settings['fact_cache']) == (30, 500, 1, 24, 'roamscan', 'dhcp_servers', True, None)


def test_values_from_variables_are_converted_like_module_options():
    settings = read_settings({'roamscan_max_active_scans': '2', 'roamscan_use_qualys_host_list': 'no',
                              'roamscan_fact_cache': {'plugin': 'community.general.redis', 'connection': 'localhost:6379:0'}})
    assert settings['max_active_scans'] == 2 and settings['use_qualys_host_list'] is False
    assert settings['fact_cache'] == {'plugin': 'community.general.redis', 'connection': 'localhost:6379:0', 'timeout': 0, 'prefix': None}


@pytest.mark.parametrize('variables, message', [
    ({'roamscan_rescan_days': 0}, 'roamscan_rescan_days must be at least 1'),
    ({'roamscan_history_days': 0}, 'roamscan_history_days must be at least 1'),
    ({'roamscan_api_allowance_per_day': 0}, 'roamscan_api_allowance_per_day must be at least 1'),
    ({'roamscan_cycle_lock_seconds': 0}, 'roamscan_cycle_lock_seconds must be at least 1'),
    ({'roamscan_max_hosts_per_cycle': 'many'}, 'roamscan_max_hosts_per_cycle'),
    ({'roamscan_fact_cache': {'connection': '/var/lib/roamscan'}}, 'plugin'),
])
def test_bad_values_name_the_variable(variables, message):
    with pytest.raises(InvalidSettings, match=message):
        read_settings(variables)


@pytest.mark.parametrize('variables, message', [
    ({'roamscan_scanner': ['s1']}, 'set exactly one of roamscan_option_profile / roamscan_option_profile_id'),
    (dict(SCAN, roamscan_option_profile_id=7), 'roamscan_option_profile, roamscan_option_profile_id'),
    ({'roamscan_option_profile': 'p'}, 'no scanner selector'),
    (dict(SCAN, roamscan_default_scanner=True), 'choose one scanner selector, got: roamscan_scanner, roamscan_default_scanner'),
    (dict(SCAN, roamscan_external_scanners=True), 'roamscan_external_scanners=true contradicts roamscan_scanner'),
    (dict(SCAN, roamscan_scan_priority=10), 'roamscan_scan_priority must be 0-9'),
    (dict(SCAN, roamscan_max_targets_per_scan=0), 'roamscan_max_targets_per_scan must be at least 1'),
])
def test_scan_choice_is_checked_by_qualys_scan_launch_s_rule(variables, message):
    assert read_settings(variables)  # not a launch: the scan choice is not needed
    with pytest.raises(InvalidSettings, match=message):
        read_settings(variables, launch=True)


def test_launch_options_carry_only_what_is_set():
    options = launch_options(read_settings(dict(SCAN, roamscan_scan_priority=3), launch=True))
    assert options == {'option_profile': 'Laptop Light Scan', 'scanner': ['laptop_scanner_1'], 'default_scanner': False,
                       'scanners_in_ag': False, 'external_scanners': False, 'priority': 3}


def test_every_setting_is_documented_once_for_the_stage_actions():
    for variable, dummy in SETTINGS.values():
        assert 'C(%s' % variable in ModuleDocFragment.DOCUMENTATION, variable
    for variable, option in SETTINGS.values():
        if option.get('default') is not None and not isinstance(option['default'], bool):
            assert 'C(%s) (default V(%s))' % (variable, option['default']) in ' '.join(ModuleDocFragment.DOCUMENTATION.split())
