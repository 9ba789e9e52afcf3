# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""qualys_login_check as a task sees it: one scan list call for the account's last scan, recorded samples answering."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.modules import qualys_login_check
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import PASSWORD

CONNECTION = {'api_url': 'https://qualysapi.qualys.eu', 'username': 'Thomas', 'password': PASSWORD}


@pytest.mark.parametrize('patch_ansible_module', [CONNECTION, dict(CONNECTION, _ansible_check_mode=True)], indirect=True)
def test_one_small_scan_list_call_proves_the_login(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('scan_list_output_real_eu_2017.xml')
    failed, result = run_module(qualys_login_check.main)     # read-only: check mode calls the same way
    assert not failed and not result['changed'] and result['api_calls'] == 1
    assert (result['account'], result['api_url']) == ('Thomas', 'https://qualysapi.qualys.eu')
    request, = qualys_api.requests
    assert request['params'] == {'action': 'list'} and request['data'] == {'user_login': 'Thomas', 'show_last': '1'}
    assert set(result['last_scan']) == {'ref', 'launched', 'state'} and result['last_scan']['ref'].startswith('scan/')


@pytest.mark.parametrize('patch_ansible_module', [CONNECTION], indirect=True)
def test_an_account_that_launched_nothing_has_no_last_scan(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('scan_list_output_empty_real.xml')
    failed, result = run_module(qualys_login_check.main)
    assert not failed and result['last_scan'] is None


@pytest.mark.parametrize('patch_ansible_module', [CONNECTION], indirect=True)
def test_a_refused_login_fails_naming_the_account_and_url_never_the_password(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('simple_return_2000_bad_login_real.xml', status=401)
    failed, result = run_module(qualys_login_check.main)
    assert failed and result['error'] == 'QualysAuthError' and 'Bad Login/Password' in result['msg']
    assert "account 'Thomas' at https://qualysapi.qualys.eu" in result['msg'] and PASSWORD not in str(result)
