# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""QualysClient behaviour on scripted answers: retries, 409 waits, errors in 200, fallbacks, secrets."""
from __future__ import annotations

import pytest
import requests

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_client import (
    PLATFORMS,
    QualysClient,
    describe_seconds,
    resolve_base_url,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import (
    QualysApiError,
    QualysAuthError,
    QualysConcurrencyError,
    QualysConfigError,
    QualysError,
    QualysLaunchOutcomeUnknown,
    QualysParseError,
    QualysRateLimitError,
    QualysTransportError,
    QualysUnavailableError,
    QualysUnsafeXmlError,
)

from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import PASSWORD, FakeResponse, FakeSession, sample

LAUNCH = {'scan_title': 't', 'option_title': 'Initial Options', 'ip': '10.0.0.1', 'iscanner_name': 's1'}
RATE_HEADERS = {'X-Ratelimit-Limit': '300', 'x-ratelimit-window-sec': '3600', 'X-RATELIMIT-REMAINING': '297',
                'X-Ratelimit-Towait-Sec': '0', 'X-Concurrency-Limit-Limit': '2', 'X-Concurrency-Limit-Running': '1'}
MAINTENANCE = '<!DOCTYPE html><html><head><title>Qualys - Scheduled Maintenance</title></head><body/></html>'


def ok(name='scan_list_output_empty_real.xml', headers=None):
    return FakeResponse(200, sample(name), headers)


def simple_return(code, text, items=(), status=200, headers=None):
    rendered = ''.join('<ITEM><KEY>%s</KEY><VALUE>%s</VALUE></ITEM>' % kv for kv in items)
    body = ('<?xml version="1.0" encoding="UTF-8" ?><SIMPLE_RETURN><RESPONSE><DATETIME>2026-01-01T00:00:00Z'
            '</DATETIME><CODE>%s</CODE><TEXT>%s</TEXT>%s</RESPONSE></SIMPLE_RETURN>'
            % (code, text, '<ITEM_LIST>%s</ITEM_LIST>' % rendered if items else ''))
    return FakeResponse(status, body, headers)


def rate_block(to_wait, header=True):
    headers = {'X-Ratelimit-Remaining': '0', 'X-Ratelimit-Limit': '300', 'X-Ratelimit-Window-Sec': '3600'}
    if header:
        headers['X-Ratelimit-Towait-Sec'] = str(to_wait)
    return simple_return('1965', 'This API cannot be run again for another %d seconds.' % to_wait,
                         [('SECONDS_TO_WAIT', to_wait)], status=409, headers=headers)


def concurrency_block():
    return simple_return('1960', 'This API cannot be run again until 1 currently running instance has finished.',
                         [('CALLS_TO_FINISH', 1)], status=409,
                         headers={'X-Concurrency-Limit-Limit': '2', 'X-Concurrency-Limit-Running': '3'})


# -- platforms and configuration --------------------------------------------------------------

def test_platform_table_is_complete_and_https():
    assert set(PLATFORMS) == {'US1', 'US2', 'US3', 'US4', 'EU1', 'EU2', 'EU3', 'IN1', 'CA1', 'AE1', 'UK1', 'AU1',
                              'KSA1'}
    assert all(url.startswith('https://qualysapi.') for url in PLATFORMS.values())
    assert PLATFORMS['EU3'] == 'https://qualysapi.qg3.apps.qualys.it'    # not .eu (reference section 2)
    assert PLATFORMS['US1'] == 'https://qualysapi.qualys.com'


@pytest.mark.parametrize('api_url, platform, expected', [
    (None, 'eu2', 'https://qualysapi.qg2.apps.qualys.eu'),
    ('https://qualysapi.p01.eng.sjc01.qualys.com/', None, 'https://qualysapi.p01.eng.sjc01.qualys.com'),
    ('http://127.0.0.1:8443', None, 'http://127.0.0.1:8443'),
])
def test_resolve_base_url(api_url, platform, expected):
    assert resolve_base_url(api_url, platform) == expected


@pytest.mark.parametrize('api_url, platform, message', [
    (None, None, 'exactly one'),
    ('https://qualysapi.qualys.com', 'US1', 'exactly one'),
    (None, 'MARS1', 'unknown Qualys platform'),
    ('http://qualysapi.qualys.com', None, 'https'),
    ('https://user:pw@qualysapi.qualys.com', None, 'credentials'),
    ('https://qualysapi.qualys.com/api/2.0/', None, 'without a path'),
    ('qualysapi.qualys.com', None, 'must look like'),
])
def test_resolve_base_url_rejects(api_url, platform, message):
    with pytest.raises(QualysConfigError, match=message):
        resolve_base_url(api_url, platform)


def test_session_carries_basic_auth_and_requested_with(make_client):
    client, session, dummy = make_client([ok()])
    client.list_scans({'scan_ref': 'scan/1.1'})
    assert session.auth == ('api_user', PASSWORD)
    assert session.headers['X-Requested-With']
    (request,) = session.requests
    assert request['url'] == 'https://qualysapi.qualys.eu/api/3.0/fo/scan/'
    assert request['params'] == {'action': 'list'} and request['data'] == {'scan_ref': 'scan/1.1'}
    assert request['allow_redirects'] is False
    assert PASSWORD not in repr(request)


def test_rate_headers_read_case_insensitively(make_client):
    client, dummy, dummy2 = make_client([ok(headers=RATE_HEADERS)])
    client.list_scans({})
    assert client.rate_limit('scan_list') == {'limit': 300, 'remaining': 297, 'window_sec': 3600}
    assert client.rate_limit('scan_launch') == {'limit': None, 'remaining': None, 'window_sec': None}


def test_launch_reads_reference_item(make_client):
    client, session, dummy = make_client([ok('simple_return_scan_launch_docsample.xml')])
    assert client.launch_scan(LAUNCH) == {'ref': 'scan/1358285558.36992', 'id': '136992'}
    assert session.requests[0]['url'].endswith('/api/2.0/fo/scan/')
    assert session.requests[0]['params'] == {'action': 'launch'}


# -- 409 rate and concurrency ------------------------------------------------------------------

def test_rate_limit_within_max_wait_waits_then_succeeds(make_client):
    client, session, sleeps = make_client([rate_block(40), ok()], max_wait=60)
    assert client.list_scans({}) == []
    assert sleeps == [41]
    assert client.api_calls == 2


def test_rate_limit_beyond_max_wait_fails_at_once_naming_the_wait(make_client):
    client, session, sleeps = make_client([rate_block(7200)], max_wait=300)
    with pytest.raises(QualysRateLimitError, match=r'wait 2 h \(7200 s\)') as caught:
        client.list_scans({})
    assert caught.value.wait_seconds == 7200
    assert sleeps == [] and len(session.requests) == 1


def test_api_usage_keeps_a_409_the_task_gave_up_on_for_the_budget_governor(make_client):
    client, dummy, dummy2 = make_client([ok(headers=RATE_HEADERS), rate_block(7200)], max_wait=300)
    client.list_scans({})
    with pytest.raises(QualysRateLimitError):
        client.launch_scan(LAUNCH)
    usage = client.api_usage()
    assert usage['scan_list']['calls'] == 1 and usage['scan_list']['remaining'] == 297
    assert usage['scan_list']['blocked_code'] is None
    assert usage['scan_launch']['calls'] == 1 and usage['scan_launch']['blocked_code'] == '1965'
    assert usage['scan_launch']['to_wait_sec'] == 7200


def test_api_usage_forgets_a_block_the_retry_got_past(make_client):
    client, dummy, dummy2 = make_client([rate_block(5), ok()], max_wait=60)
    client.list_scans({})
    assert client.api_usage()['scan_list']['calls'] == 2 and client.api_usage()['scan_list']['blocked_code'] is None


def test_rate_wait_falls_back_to_body_item_then_text(make_client):
    body_only = rate_block(30, header=False)
    text_only = FakeResponse(409, '<SIMPLE_RETURN><RESPONSE><CODE>1965</CODE><TEXT>This API cannot be run again '
                                  'for another 1 minute and 5 seconds.</TEXT></RESPONSE></SIMPLE_RETURN>')
    client, dummy, sleeps = make_client([body_only, text_only, ok()], max_wait=600)
    client.list_scans({})
    assert sleeps == [31, 66]


def test_rate_waits_add_up_against_max_wait(make_client):
    client, session, sleeps = make_client([rate_block(40), rate_block(40)], max_wait=60)
    with pytest.raises(QualysRateLimitError, match='more than the 19 s left of max_wait=60 s'):
        client.list_scans({})
    assert sleeps == [41]


def test_concurrency_backs_off_bounded_with_jitter(make_client):
    client, session, sleeps = make_client([concurrency_block(), concurrency_block(), ok()])
    client.list_scans({})
    assert sleeps == [2.0, 4.0]


def test_concurrency_gives_up_after_bounded_retries(make_client):
    client, session, sleeps = make_client([concurrency_block() for dummy in range(6)], max_wait=3600)
    with pytest.raises(QualysConcurrencyError, match='after 5 back-offs'):
        client.list_scans({})
    assert len(session.requests) == 6 and len(sleeps) == 5


def test_blocked_launch_is_resent(make_client):
    """A 409 means Qualys refused the call, so re-sending a launch cannot double it."""
    client, session, sleeps = make_client([rate_block(5), ok('simple_return_scan_launch_docsample.xml')])
    assert client.launch_scan(LAUNCH)['ref'] == 'scan/1358285558.36992'
    assert len(session.requests) == 2


def test_other_409_codes_are_fatal(make_client):
    client, session, dummy = make_client([simple_return('2003', 'Registration must be completed', status=409)])
    with pytest.raises(QualysAuthError):
        client.list_scans({})


# -- transport errors: reads retried, launches never -------------------------------------------

def test_read_retried_after_5xx_and_connection_error(make_client):
    client, session, sleeps = make_client([FakeResponse(500, '<html><title>500</title></html>'),
                                           requests.exceptions.ConnectionError('reset'), ok()])
    assert client.list_scans({}) == []
    assert sleeps == [1.0, 2.0] and client.api_calls == 3


def test_read_gives_up_after_bounded_retries(make_client):
    client, session, sleeps = make_client([requests.exceptions.ReadTimeout('slow')] * 4)
    with pytest.raises(QualysTransportError, match='after 4 attempts'):
        client.list_scans({})


def test_launch_not_resent_after_lost_answer(make_client):
    client, session, sleeps = make_client([requests.exceptions.ConnectionError('Connection aborted.')])
    with pytest.raises(QualysLaunchOutcomeUnknown, match='not re-sent'):
        client.launch_scan(LAUNCH)
    assert len(session.requests) == 1 and sleeps == []


def test_launch_not_resent_after_5xx(make_client):
    client, session, sleeps = make_client([FakeResponse(502, 'Bad gateway')])
    with pytest.raises(QualysTransportError, match='may or may not have been performed'):
        client.launch_scan(LAUNCH)
    assert len(session.requests) == 1


def test_launch_resent_when_connection_never_opened(make_client):
    client, session, sleeps = make_client([requests.exceptions.ConnectTimeout('connect timeout'),
                                           ok('simple_return_scan_launch_docsample.xml')])
    assert client.launch_scan(LAUNCH)['id'] == '136992'


def test_maintenance_html_503_is_a_clear_error(make_client):
    client, session, sleeps = make_client([FakeResponse(503, MAINTENANCE)] * 4)
    with pytest.raises(QualysUnavailableError, match='HTTP 503 with an HTML page "Qualys - Scheduled Maintenance" '
                                                     r'\(planned maintenance\?\)') as caught:
        client.list_scans({})
    assert caught.value.page_title == 'Qualys - Scheduled Maintenance'
    assert len(session.requests) == 4


def test_html_in_200_is_not_parsed_as_xml(make_client):
    client, session, dummy = make_client([FakeResponse(200, '<html><head><title>Proxy login</title></head></html>')])
    with pytest.raises(QualysUnavailableError, match='Proxy login'):
        client.list_scans({})


def test_redirect_not_followed(make_client):
    client, session, dummy = make_client([FakeResponse(301, '<html>moved</html>', {'Location': 'https://x/'})])
    with pytest.raises(QualysTransportError, match='redirects are not followed'):
        client.launch_scan(LAUNCH)


# -- errors in the body ------------------------------------------------------------------------

def test_error_code_inside_http_200(make_client):
    client, session, dummy = make_client([ok('simple_return_2001_account_expired_http200_real.xml')])
    with pytest.raises(QualysAuthError, match='2001.*This account has expired') as caught:
        client.list_scans({})
    assert (caught.value.code, caught.value.status) == ('2001', 200)


def test_bad_login_names_the_usual_causes(make_client):
    client, session, dummy = make_client([FakeResponse(401, sample('simple_return_2000_bad_login_real.xml'))])
    with pytest.raises(QualysAuthError, match='wrong platform'):
        client.list_scans({})


def test_validation_error_keeps_code_and_text(make_client):
    client, session, dummy = make_client([FakeResponse(400, sample('simple_return_1903_missing_action_real.xml'))])
    with pytest.raises(QualysApiError, match='Missing required parameter') as caught:
        client.launch_scan(LAUNCH)
    assert caught.value.code == '1903'


def test_xml_bomb_answer_refused(make_client):
    bomb = '<!DOCTYPE SIMPLE_RETURN [<!ENTITY a "a"><!ENTITY b "&a;&a;">]><SIMPLE_RETURN>&b;</SIMPLE_RETURN>'
    client, session, dummy = make_client([FakeResponse(200, bomb)])
    with pytest.raises(QualysUnsafeXmlError):
        client.list_scans({})


def test_launch_answer_without_reference(make_client):
    client, session, dummy = make_client([ok('simple_return_session_login_real.xml')])
    with pytest.raises(QualysParseError, match='no REFERENCE'):
        client.launch_scan(LAUNCH)


# -- API version fallback, pagination ----------------------------------------------------------

def test_scan_list_falls_back_to_2_0_on_404_and_remembers(make_client):
    client, session, dummy = make_client([FakeResponse(404, '<html>Not Found</html>'), ok(), ok()])
    client.list_scans({})
    client.list_scans({})
    assert [r['url'].split('/api/')[1] for r in session.requests] == ['3.0/fo/scan/', '2.0/fo/scan/', '2.0/fo/scan/']


def test_host_list_falls_back_on_1901(make_client):
    unrecognized = FakeResponse(400, sample('simple_return_1903_missing_action_real.xml').replace(
        '1903', '1901').replace('Missing required', 'Unrecognized'))
    client, session, dummy = make_client([unrecognized, ok('host_list_output_id_set_real_qg3.xml')])
    assert client.list_hosts({'details': 'None'})['ids'] == ['107800671']
    assert [r['url'].split('/api/')[1] for r in session.requests] == ['5.0/fo/asset/host/', '4.0/fo/asset/host/']


def test_404_on_the_only_path_is_an_error(make_client):
    client, session, dummy = make_client([FakeResponse(404, '<html>Not Found</html>')])
    with pytest.raises(QualysTransportError, match='404'):
        client.launch_scan(LAUNCH)


def test_host_list_follows_pages_with_id_min(make_client):
    client, session, dummy = make_client([ok('host_list_output_truncated_warning_docsample.xml'),
                                          ok('host_list_output_id_set_real_qg3.xml')])
    pages = client.list_hosts({'ips': '11.11.1.111', 'details': 'Basic'})
    assert [h['ip'] for h in pages['hosts']] == ['11.11.1.111'] and pages['ids'] == ['107800671']
    second = session.requests[1]
    assert second['data'] == {'ips': '11.11.1.111', 'details': 'Basic', 'truncation_limit': 1000, 'id_min': 145359}
    assert second['url'] == 'https://qualysapi.qualys.eu/api/5.0/fo/asset/host/'    # not the WARNING URL's host
    assert client.api_calls == 2


def test_pagination_that_does_not_advance_is_refused(make_client):
    page = ok('host_list_output_truncated_warning_docsample.xml')
    client, session, dummy = make_client([page, page])
    with pytest.raises(QualysParseError, match='does not advance'):
        client.list_hosts({'id_min': 145359})


# -- secrets -----------------------------------------------------------------------------------

def test_password_scrubbed_from_every_error_text(make_client):
    echoed = simple_return('1905', 'parameter x has invalid value: %s' % PASSWORD, status=400)
    client, session, dummy = make_client([echoed])
    with pytest.raises(QualysApiError) as caught:
        client.list_scans({})
    assert PASSWORD not in str(caught.value) and PASSWORD not in caught.value.text
    assert '********' in str(caught.value)


def test_password_not_in_transport_error(make_client):
    client, session, dummy = make_client([requests.exceptions.ConnectionError('pw=%s' % PASSWORD)] * 4)
    with pytest.raises(QualysError) as caught:
        client.list_scans({})
    assert PASSWORD not in str(caught.value)


def test_client_requires_credentials():
    with pytest.raises(QualysConfigError):
        QualysClient('https://qualysapi.qualys.com', 'user', '', session=FakeSession([]))


@pytest.mark.parametrize('seconds, text', [(5, '5 s'), (60, '1 min (60 s)'), (7200, '2 h (7200 s)'),
                                           (86275, '23 h 57 min 55 s (86275 s)')])
def test_describe_seconds(seconds, text):
    assert describe_seconds(seconds) == text
