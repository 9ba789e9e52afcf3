# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every recorded/guide sample in fixtures/qualys parses into what the modules rely on."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import (
    QualysParseError,
    QualysUnsafeXmlError,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_xml import (
    parse_host_list,
    parse_scan_list,
    parse_scan_results_json,
    parse_simple_return,
    parse_xml,
)

from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import SAMPLES, sample


def test_every_sample_is_covered_by_a_test():
    covered = {
        'host_list_output_id_set_real_qg3.xml', 'host_list_output_truncated_warning_docsample.xml',
        'scan_list_output_empty_real.xml', 'scan_list_output_real_eu_2017.xml',
        'scan_list_output_v3_no_host_docsample.xml', 'simple_return_1903_missing_action_real.xml',
        'simple_return_1905_invalid_ids_real.xml', 'simple_return_2000_bad_login_real.xml',
        'simple_return_2001_account_expired_http200_real.xml', 'simple_return_scan_launch_docsample.xml',
        'simple_return_session_login_real.xml',
    }
    assert {p.name for p in SAMPLES.glob('*.xml')} == covered


def test_launch_docsample_gives_reference_and_id():
    result = parse_simple_return(parse_xml(sample('simple_return_scan_launch_docsample.xml')))
    assert result['code'] is None
    assert result['text'] == 'New vm scan launched'
    assert result['items'] == {'ID': '136992', 'REFERENCE': 'scan/1358285558.36992'}


@pytest.mark.parametrize('name, code, text', [
    ('simple_return_1903_missing_action_real.xml', '1903', 'Missing required parameter(s): action'),
    ('simple_return_1905_invalid_ids_real.xml', '1905',
     'parameter ids has invalid value: abc123 (neither a positive integer nor a range: abc123)'),
    ('simple_return_2000_bad_login_real.xml', '2000', 'Bad Login/Password'),
    ('simple_return_2001_account_expired_http200_real.xml', '2001', 'This account has expired.'),
    ('simple_return_session_login_real.xml', None, 'Logged in'),
])
def test_simple_return_codes(name, code, text):
    result = parse_simple_return(parse_xml(sample(name)))
    assert (result['code'], result['text']) == (code, text)


def test_real_scan_list_eu_2017():
    scans = parse_scan_list(parse_xml(sample('scan_list_output_real_eu_2017.xml')))
    assert [s['ref'] for s in scans] == ['scan/1512633905.79357', 'scan/1512633883.79354', 'scan/1512633720.79248',
                                         'scan/1512469561.67379', 'scan/1512466786.67046']
    first = scans[0]
    assert first['state'] == 'Error' and first['sub_state'] is None
    assert first['title'] == 'shellshock 20171207'
    assert first['target'] == '47.69.112.62'
    assert first['processed'] is True
    assert first['launched'] == '2017-12-07T08:05:05Z' and first['duration'] == '00:01:43'
    assert scans[3]['priority'] == '1 - Emergency'


def test_empty_scan_list_has_no_scans():
    assert parse_scan_list(parse_xml(sample('scan_list_output_empty_real.xml'))) == []


def test_v3_docsample_strips_cdata_whitespace_and_reads_sub_state():
    (scan,) = parse_scan_list(parse_xml(sample('scan_list_output_v3_no_host_docsample.xml')))
    assert scan['title'] == 'Azure Scan Internal Test'
    assert (scan['state'], scan['sub_state']) == ('Finished', 'No_Host')
    assert scan['target'].startswith('65188eb1-02b7') and '\n' not in scan['target']


def test_host_list_id_set_real():
    page = parse_host_list(parse_xml(sample('host_list_output_id_set_real_qg3.xml')))
    assert page == {'hosts': [], 'ids': ['107800671'], 'next_id_min': None}


def test_host_list_truncated_warning_gives_next_id_min():
    page = parse_host_list(parse_xml(sample('host_list_output_truncated_warning_docsample.xml')))
    (host,) = page['hosts']
    assert host['ip'] == '11.11.1.111'
    assert host['tracking_method'] == 'EC2'
    assert host['last_vuln_scan'] == '2017-03-21T13:39:38Z'
    assert host['last_vm_scanned_duration'] == '229'
    assert page['next_id_min'] == 145359


def test_wrong_root_is_a_parse_error():
    with pytest.raises(QualysParseError):
        parse_scan_list(parse_xml(sample('scan_list_output_empty_real.xml').replace('SCAN_LIST_OUTPUT', 'OTHER')))


def test_xml_bomb_is_refused_before_expansion():
    bomb = ('<?xml version="1.0"?><!DOCTYPE SIMPLE_RETURN [<!ENTITY a "aaaaaaaaaa">'
            '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]><SIMPLE_RETURN><RESPONSE><TEXT>&b;</TEXT>'
            '</RESPONSE></SIMPLE_RETURN>')
    with pytest.raises(QualysUnsafeXmlError):
        parse_xml(bomb)


def test_external_entity_is_refused():
    xxe = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    with pytest.raises(QualysUnsafeXmlError):
        parse_xml(xxe)


def test_malformed_xml():
    with pytest.raises(QualysParseError, match='not well-formed'):
        parse_xml('<SCAN_LIST_OUTPUT><RESPONSE>')


def test_fetch_json_with_irregular_keys():
    body = ('[{"launch_date": "2018-01-01 10:00:00", "reference": "scan/1.1", "total_hosts": "4"},'
            ' {"ip": "10.0.0.1", "qid": 6, "title": "DNS Host Name"},'
            ' {"target_distribution_across_scanner_appliances": "sc1 : 10.0.0.1-10.0.0.4"},'
            ' {"hosts_not_scanned_host_not_alive_ip": "10.0.0.2"},'
            ' {"host_not_scanned,_scan_canceled_by_user_ip_": "10.0.0.3"},'
            ' {"no_vulnerabilities_match_your_filters_for_these_hosts": "10.0.0.4"}]')
    result = parse_scan_results_json(body)
    assert result['header']['reference'] == 'scan/1.1'
    assert result['finding_ips'] == {'10.0.0.1'}
    assert result['not_scanned'] == {'not_alive': ['10.0.0.2'], 'canceled': ['10.0.0.3']}
    assert result['no_vuln'] == ['10.0.0.4']


@pytest.mark.parametrize('body', ['{"a": 1}', 'not json', '[1, 2]'])
def test_fetch_json_rejects_other_shapes(body):
    with pytest.raises(QualysParseError):
        parse_scan_results_json(body)
