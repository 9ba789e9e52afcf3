# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""host_last_scanned as a task sees it: arguments in, exit_json/fail_json out, Qualys answering recorded samples."""
from __future__ import annotations

import json

import pytest

from ansible_collections.roamscan.qualys.plugins.modules import host_last_scanned
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import PASSWORD

CONNECTION = {'api_url': 'https://qualysapi.qualys.eu', 'username': 'Thomas', 'password': PASSWORD}
# host_list_output_truncated_warning_docsample.xml: 11.11.1.111 last scanned 2017-03-21T13:39:38Z, more pages.
SCANNED_AT = '2017-03-21T13:39:38Z'
AGE = 36500


def hosts_args(hosts, **options):
    return dict(CONNECTION, hosts=hosts, max_age_days=options.pop('max_age_days', AGE), **options)


@pytest.mark.parametrize('patch_ansible_module, message', [
    (hosts_args(['11.11.1.111', 'not-an-ip']), 'invalid hosts, nothing looked up: hosts[1]'),
    (hosts_args([{'ip': '11.11.1.111', 'mac': 'zz:zz'}]), 'hosts[0]'),
    (hosts_args([{'ip': '11.11.1.111', 'held_since': '2017-03-01 10:00'}]), 'held_since: time without a time zone'),
    (hosts_args([{'ip': '11.11.1.111', 'owner': 'alice'}]), 'unknown keys owner'),
    (hosts_args(['11.11.1.111'], max_age_days=-1), 'max_age_days must be zero or more'),
], indirect=['patch_ansible_module'])
def test_bad_hosts_fail_before_any_api_call(patch_ansible_module, message, fails_without_calls):
    fails_without_calls(host_last_scanned.main, message)


@pytest.mark.parametrize('patch_ansible_module', [
    hosts_args([{'ip': '11.11.1.111', 'mac': '2:77:0:0:a:1', 'held_since': '2017-03-01T00:00:00Z'}, '11.11.1.112']),
    hosts_args([{'ip': '11.11.1.111', 'mac': '2:77:0:0:a:1', 'held_since': '2017-03-01T00:00:00Z'}, '11.11.1.112'],
               _ansible_check_mode=True),
], indirect=True)
def test_all_ips_in_one_request_and_pages_fetched_from_our_own_url(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('host_list_output_truncated_warning_docsample.xml').answer('host_list_output_id_set_real_qg3.xml')
    failed, result = run_module(host_last_scanned.main)       # read-only: check mode reads the same way
    assert not failed and not result['changed'] and result['api_calls'] == 2
    first, second = qualys_api.requests
    assert first['data'] == {'ips': '11.11.1.111-11.11.1.112', 'details': 'Basic', 'truncation_limit': 1000}
    assert second['data'] == dict(first['data'], id_min=145359)
    # the next page is asked of the configured server, never of the host the WARNING URL names
    assert {request['url'] for request in qualys_api.requests} == {'https://qualysapi.qualys.eu/api/5.0/fo/asset/host/'}
    scanned, unknown = result['hosts']
    assert (scanned['mac'], scanned['last_scanned'], scanned['source'], scanned['overdue']) == \
        ('02:77:00:00:0a:01', SCANNED_AT, 'qualys', False)
    assert scanned['qualys']['tracking_method'] == 'EC2'
    assert (unknown['last_scanned'], unknown['source'], unknown['overdue']) == (None, 'none', True)
    assert result['overdue'] == ['11.11.1.112']


@pytest.mark.parametrize('patch_ansible_module', [hosts_args([{'ip': '11.11.1.111', 'held_since': '2017-04-01T00:00:00Z'}])],
                         indirect=True)
def test_scan_from_before_this_laptop_held_the_ip_is_not_credited(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('host_list_output_truncated_warning_docsample.xml').answer('host_list_output_id_set_real_qg3.xml')
    failed, result = run_module(host_last_scanned.main)
    assert not failed
    (host,) = result['hosts']
    assert (host['source'], host['last_scanned'], host['overdue']) == ('none', None, True)


@pytest.mark.parametrize('patch_ansible_module', [hosts_args([{'ip': '11.11.1.111', 'last_scanned': SCANNED_AT}],
                                                             use_qualys=False, max_age_days=30)], indirect=True)
def test_without_qualys_only_local_records_count_and_nothing_is_called(patch_ansible_module, qualys_api, run_module):
    failed, result = run_module(host_last_scanned.main)
    assert not failed and result['api_calls'] == 0 and qualys_api.requests == []
    assert result['hosts'][0]['source'] == 'local' and result['overdue'] == ['11.11.1.111']


@pytest.mark.parametrize('patch_ansible_module', [hosts_args(['11.11.1.111'])], indirect=True)
def test_bad_login_fails_clearly_and_never_shows_the_password(patch_ansible_module, qualys_api, run_module):
    qualys_api.answer('simple_return_2000_bad_login_real.xml', status=401)
    failed, result = run_module(host_last_scanned.main)
    assert failed and 'Bad Login/Password (also the answer for a wrong platform' in result['msg']
    assert PASSWORD not in json.dumps(result)
