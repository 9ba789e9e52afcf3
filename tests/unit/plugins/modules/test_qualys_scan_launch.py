# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""qualys_scan_launch as a task sees it: arguments in, exit_json/fail_json out, Qualys answering recorded samples."""
from __future__ import annotations

import json

import pytest
import requests

from ansible_collections.roamscan.qualys.plugins.modules import qualys_scan_launch
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import PASSWORD, sample

CONNECTION = {'api_url': 'https://qualysapi.qualys.eu', 'username': 'Thomas', 'password': PASSWORD}
LAUNCH = dict(CONNECTION, option_profile='Laptop Light Scan', scanner=['laptop_scanner_1'], title='roamscan cycle',
              targets=['10.77.0.%d' % n for n in range(1, 100, 2)])
# scan_list_output_real_eu_2017.xml: user Thomas; "test_vuln" once (Finished), "shellshock 20171207" twice.
RESUME_TEST_VULN = dict(LAUNCH, title=None, targets=['192.168.1.100'],
                        resume={'title': 'test_vuln', 'since': '2017-12-05T10:25:58Z'})


def launch_args(**changes):
    return {key: value for key, value in dict(LAUNCH, **changes).items() if value is not None}


@pytest.mark.parametrize('patch_ansible_module, message', [
    (launch_args(targets=['10.77.0.1', '10.77.0.300']), 'invalid targets, nothing launched'),
    (launch_args(targets=[]), 'targets is empty'),
    (launch_args(scanner=None), 'no scanner selector'),
    (launch_args(scanner_ids=[2001]), 'choose one scanner selector'),
    (launch_args(priority=10), 'priority must be 0-9'),
    (launch_args(resume={'title': 'another cycle', 'since': '2026-12-01T09:00:00Z'}), 'title (roamscan cycle) and resume.title'),
    (launch_args(resume={'title': 'roamscan cycle', 'since': 'yesterday'}), 'resume.since: not an ISO-8601 time'),
    (launch_args(title=None), 'one of the following is required: title, resume'),
], indirect=['patch_ansible_module'])
def test_bad_arguments_fail_before_any_api_call(patch_ansible_module, message, fails_without_calls):
    fails_without_calls(qualys_scan_launch.main, message)


@pytest.mark.parametrize('patch_ansible_module', [
    dict(LAUNCH, _ansible_check_mode=True, max_targets_per_scan=20),
    dict(RESUME_TEST_VULN, _ansible_check_mode=True),
], indirect=True)
def test_check_mode_makes_no_call_and_shows_the_planned_launches(patch_ansible_module, qualys_api, run_module):
    failed, result = run_module(qualys_scan_launch.main)
    assert not failed and result['changed'] and result['api_calls'] == 0 and result['scan_refs'] == []
    planned = sum(len(scan['targets']) for scan in result['scans'])
    assert planned == len(patch_ansible_module['targets']) and all(scan['ref'] is None for scan in result['scans'])
    assert qualys_api.requests == []


@pytest.mark.parametrize('patch_ansible_module', [LAUNCH], indirect=True)
def test_fifty_laptops_go_out_in_one_launch_call(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('scan_list_output_empty_real.xml').answer('simple_return_scan_launch_docsample.xml')
    failed, result = run_module(qualys_scan_launch.main)
    assert not failed and result['changed']
    assert qualys_api.actions() == ['list', 'launch'] and result['api_calls'] == 2   # reuse_active lookup + ONE launch
    launch = qualys_api.requests[1]['data']
    assert sorted(launch['ip'].split(',')) == sorted(LAUNCH['targets'])
    assert launch['scan_title'] == 'roamscan cycle' and launch['iscanner_name'] == 'laptop_scanner_1'
    assert qualys_api.requests[0]['data'] == {'state': 'Queued,Loading,Running', 'user_login': 'Thomas'}
    assert result['scans'] == [{'ref': 'scan/1358285558.36992', 'id': '136992', 'title': 'roamscan cycle',
                                'targets': launch['ip'].split(','), 'reused': False, 'state': None}]
    assert result['rate_limit'] == {'limit': 300, 'remaining': 297, 'window_sec': 3600}


@pytest.mark.parametrize('patch_ansible_module', [RESUME_TEST_VULN], indirect=True)
def test_resume_returns_the_finished_scan_of_the_intent_with_one_call(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('scan_list_output_real_eu_2017.xml')
    failed, result = run_module(qualys_scan_launch.main)
    assert not failed and not result['changed']
    assert result['scans'] == [{'ref': 'scan/1512469561.67379', 'id': None, 'title': 'test_vuln',
                                'targets': ['192.168.1.100'], 'reused': True, 'state': 'Finished'}]
    assert qualys_api.actions() == ['list'] and result['api_calls'] == 1
    # every state (no state filter), this user, from the intent's time minus the clock margin
    assert qualys_api.requests[0]['data'] == {'user_login': 'Thomas', 'launched_after_datetime': '2017-12-05T09:25:58Z'}


@pytest.mark.parametrize('patch_ansible_module', [dict(RESUME_TEST_VULN, resume={'title': 'roamscan cycle',
                                                                                 'since': '2017-12-05T10:25:58Z'})],
                         indirect=True)
def test_resume_launches_once_when_qualys_has_no_scan_of_the_intent(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('scan_list_output_real_eu_2017.xml').answer('simple_return_scan_launch_docsample.xml')
    failed, result = run_module(qualys_scan_launch.main)
    assert not failed and result['changed'] and result['scan_refs'] == ['scan/1358285558.36992']
    assert qualys_api.actions() == ['list', 'launch'] and result['api_calls'] == 2   # no more than a normal launch


@pytest.mark.parametrize('patch_ansible_module', [dict(RESUME_TEST_VULN, targets=['47.69.112.62'], resume={
    'title': 'shellshock 20171207', 'since': '2017-12-07T08:04:40Z'})], indirect=True)
def test_resume_with_two_scans_of_the_title_fails_and_launches_nothing(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('scan_list_output_real_eu_2017.xml')
    failed, result = run_module(qualys_scan_launch.main)
    assert failed and 'nothing was launched' in result['msg']
    assert 'scan/1512633905.79357 (Error), scan/1512633883.79354 (Finished)' in result['msg']
    assert qualys_api.actions() == ['list'] and PASSWORD not in json.dumps(result)


@pytest.mark.parametrize('patch_ansible_module', [RESUME_TEST_VULN], indirect=True)
def test_resume_fails_and_launches_nothing_when_qualys_refuses_the_lookup(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('simple_return_2000_bad_login_real.xml', status=401)
    failed, result = run_module(qualys_scan_launch.main)
    assert failed and 'nothing was launched' in result['msg'] and 'Bad Login/Password' in result['msg']
    assert qualys_api.actions() == ['list']


@pytest.mark.parametrize('patch_ansible_module', [LAUNCH], indirect=True)
def test_bad_login_fails_with_the_qualys_error_and_never_the_password(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('simple_return_2000_bad_login_real.xml', status=401)
    failed, result = run_module(qualys_scan_launch.main)
    assert failed and 'Qualys error 2000 (HTTP 401): Bad Login/Password' in result['msg']
    assert result['error'] == 'QualysAuthError' and result['qualys_code'] == '2000'
    assert qualys_api.actions() == ['list']     # nothing launched after the refused lookup
    assert PASSWORD not in json.dumps(result)


@pytest.mark.parametrize('patch_ansible_module', [LAUNCH], indirect=True)
def test_error_text_echoing_the_password_is_scrubbed(patch_ansible_module, qualys_api, run_module):
    echoed = sample('simple_return_1905_invalid_ids_real.xml').replace('abc123', PASSWORD)   # e.g. a proxy echoing the body
    qualys_api.answer('scan_list_output_empty_real.xml').answer(status=400, text=echoed)
    failed, result = run_module(qualys_scan_launch.main)
    assert failed and result['qualys_code'] == '1905' and '********' in result['msg']
    assert PASSWORD not in json.dumps(result)


@pytest.mark.parametrize('patch_ansible_module', [LAUNCH], indirect=True)
def test_lost_launch_answer_is_never_resent(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('scan_list_output_empty_real.xml')
    qualys_api.session.answers.append(requests.exceptions.ReadTimeout('read timed out'))
    qualys_api.answer('scan_list_output_empty_real.xml')
    failed, result = run_module(qualys_scan_launch.main)
    assert failed and 'most likely not launched; re-running is safe' in result['msg']
    assert qualys_api.actions() == ['list', 'launch', 'list']      # one launch, one look for its scan
