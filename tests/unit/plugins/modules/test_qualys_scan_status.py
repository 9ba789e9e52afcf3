# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""qualys_scan_status as a task sees it: arguments in, exit_json/fail_json out, Qualys answering recorded samples."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from ansible_collections.roamscan.qualys.plugins.modules import qualys_scan_status
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import PASSWORD

CONNECTION = {'api_url': 'https://qualysapi.qualys.eu', 'username': 'Thomas', 'password': PASSWORD}
# Two scans of scan_list_output_real_eu_2017.xml: one ended in Error, one Finished and processed.
ERROR_REF = 'scan/1512633905.79357'
FINISHED_REF = 'scan/1512633883.79354'
FETCH_JSON = (Path(__file__).parent / 'fixtures' / 'scan_fetch_brief_47.69.112.62.json').read_text(encoding='utf-8')


@pytest.mark.parametrize('patch_ansible_module, message', [
    (dict(CONNECTION, scan_refs=['scan/1512633905.79357', 'scan/abc']), 'not Qualys scan references'),
    (dict(CONNECTION, scan_refs=[' ']), 'not Qualys scan references'),
    (dict(CONNECTION, scan_refs=[FINISHED_REF], poll_interval=5), 'poll_interval must be at least 30 seconds'),
    (dict(CONNECTION, scan_refs=[FINISHED_REF], wait_timeout=-1), 'wait_timeout must be zero or more'),
    (dict(CONNECTION, scan_refs=[FINISHED_REF], timeout=0), 'timeout must be at least 1 second'),
], indirect=['patch_ansible_module'])
def test_bad_arguments_fail_before_any_api_call(patch_ansible_module, message, fails_without_calls):
    fails_without_calls(qualys_scan_status.main, message)


@pytest.mark.parametrize('patch_ansible_module', [
    dict(CONNECTION, scan_refs=[ERROR_REF, FINISHED_REF, 'scan/1512633999.11111']),
    dict(CONNECTION, scan_refs=[ERROR_REF, FINISHED_REF, 'scan/1512633999.11111'], _ansible_check_mode=True),
], indirect=True)
def test_several_scans_in_one_list_call_and_one_fetch_of_the_finished_one(patch_ansible_module, qualys_api,
                                                                          run_module, module_warnings):
    qualys_api.answer('scan_list_output_real_eu_2017.xml').answer(text=FETCH_JSON)
    failed, result = run_module(qualys_scan_status.main)     # read-only: check mode reads the same way
    assert not failed and not result['changed'] and result['api_calls'] == 2
    assert qualys_api.actions() == ['list', 'fetch']
    # the API filters one scan_ref only: several are read as "launched since the oldest ref's epoch minus a day"
    assert qualys_api.requests[0]['data'] == {'launched_after_datetime': '2017-12-06T08:04:43Z'}
    assert qualys_api.requests[1]['data'] == {'scan_ref': FINISHED_REF, 'output_format': 'json', 'mode': 'brief'}
    error, finished, missing = result['scans']
    assert (error['state'], error['done'], error['scanned']) == ('Error', True, [])
    assert (finished['state'], finished['done'], finished['scanned']) == ('Finished', True, ['47.69.112.62'])
    assert finished['title'] == 'shellshock 20171207' and finished['launched'] == '2017-12-07T08:04:43Z'
    assert missing['found'] is False and result['all_done']
    assert module_warnings == ['Qualys does not list these scans (deleted, or launched long ago): scan/1512633999.11111']


@pytest.mark.parametrize('patch_ansible_module', [dict(CONNECTION, scan_refs=[FINISHED_REF])], indirect=True)
def test_expired_account_in_http_200_fails_clearly_without_the_password(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('simple_return_2001_account_expired_http200_real.xml')
    failed, result = run_module(qualys_scan_status.main)
    assert failed and 'Qualys error 2001 (HTTP 200): This account has expired.' in result['msg']
    assert result['error'] == 'QualysAuthError' and result['api_calls'] == 1
    assert PASSWORD not in json.dumps(result)
