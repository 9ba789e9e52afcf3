# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The simulator is strict and faithful: its answers parse like the real samples, its rules match the reference."""
from __future__ import annotations

import base64
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import requests

from qualys_sim import QualysSimulator
from qualys_sim.__main__ import FAST


SAMPLES = Path(__file__).resolve().parents[1] / 'unit' / 'plugins' / 'module_utils' / 'fixtures' / 'qualys'
HEADERS = {'X-Requested-With': 'sim test'}


def call(sim, path, action=None, method='POST', auth=True, requested_with=True, **params):
    query = {'action': action} if action else {}
    return requests.request(method, sim.url + path, params=query, data=params or None,
                            headers=HEADERS if requested_with else {},
                            auth=(sim.username, sim.password) if auth else None, timeout=10, allow_redirects=False)


def launch(sim, ip='10.70.0.1-10.70.0.3', title='sim'):
    return call(sim, '/api/2.0/fo/scan/', 'launch', scan_title=title, ip=ip, option_title='Initial Options',
                iscanner_name='laptop_scanner_1')


def paths(element, prefix=''):
    """Set of element paths (tags joined by '/') below element, for structural comparison."""
    found = set()
    for child in element:
        path = prefix + child.tag
        found.add(path)
        found |= paths(child, path + '/')
    return found


@pytest.fixture
def lib(qualys_collection_import):
    from ansible_collections.roamscan.qualys.plugins.module_utils import _qualys_xml
    return _qualys_xml


def test_answers_have_the_structure_of_the_real_samples(qualys_sim, lib):
    launched = launch(qualys_sim)
    real_launch = lib.parse_xml((SAMPLES / 'simple_return_scan_launch_docsample.xml').read_text())
    sim_launch = lib.parse_xml(launched.text)
    assert paths(sim_launch) == paths(real_launch)
    assert launched.text.startswith('<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE SIMPLE_RETURN SYSTEM')
    ref = lib.parse_simple_return(sim_launch)['items']['REFERENCE']

    listed = call(qualys_sim, '/api/3.0/fo/scan/', 'list')
    real_list = lib.parse_xml((SAMPLES / 'scan_list_output_real_eu_2017.xml').read_text())
    assert paths(lib.parse_xml(listed.text)) == paths(real_list)
    assert 'evaluation version of Qualys' in listed.text and listed.headers['Content-Type'].startswith('text/xml')
    (scan,) = lib.parse_scan_list(lib.parse_xml(listed.text))
    assert (scan['ref'], scan['state'], scan['processed'], scan['type']) == (ref, 'Queued', False, 'API')

    empty = call(qualys_sim, '/api/3.0/fo/scan/', 'list', state='Finished')
    real_empty = lib.parse_xml((SAMPLES / 'scan_list_output_empty_real.xml').read_text())
    assert paths(lib.parse_xml(empty.text)) == paths(real_empty)

    qualys_sim.state.scan_action('*', 'process')
    hosts = call(qualys_sim, '/api/5.0/fo/asset/host/', 'list', truncation_limit='1')
    truncated = lib.parse_xml((SAMPLES / 'host_list_output_truncated_warning_docsample.xml').read_text())
    sim_hosts = lib.parse_xml(hosts.text)
    documented_host_fields = {'ID', 'IP', 'TRACKING_METHOD', 'DNS', 'NETBIOS', 'OS', 'LAST_VULN_SCAN_DATETIME',
                              'LAST_VM_SCANNED_DATE', 'LAST_VM_SCANNED_DURATION'}
    assert {p for p in paths(sim_hosts) if 'HOST/' not in p} == {p for p in paths(truncated) if 'HOST/' not in p}
    assert {p.rsplit('/', 1)[1] for p in paths(sim_hosts) if 'HOST/' in p} <= documented_host_fields
    page = lib.parse_host_list(sim_hosts)
    assert page['next_id_min'] is not None and len(page['hosts']) == 1
    ids_only = call(qualys_sim, '/api/2.0/fo/asset/host/', 'list', details='None')
    real_ids = lib.parse_xml((SAMPLES / 'host_list_output_id_set_real_qg3.xml').read_text())
    assert paths(lib.parse_xml(ids_only.text)) == paths(real_ids)

    bad = call(qualys_sim, '/api/2.0/fo/scan/')
    real_1903 = (SAMPLES / 'simple_return_1903_missing_action_real.xml').read_text()
    assert bad.status_code == 400
    assert lib.parse_simple_return(lib.parse_xml(bad.text))['text'] == \
        lib.parse_simple_return(lib.parse_xml(real_1903))['text']
    unauthorized = call(qualys_sim, '/api/3.0/fo/scan/', 'list', auth=False)
    real_2000 = (SAMPLES / 'simple_return_2000_bad_login_real.xml').read_text()
    assert unauthorized.status_code == 401
    assert paths(lib.parse_xml(unauthorized.text)) == paths(lib.parse_xml(real_2000))
    assert not [h for h in unauthorized.headers if h.lower().startswith('x-ratelimit')]


def test_fetch_results_split_alive_and_dead(qualys_sim, lib):
    ref = launch(qualys_sim, '10.71.0.1-10.71.0.4').text.split('<VALUE>scan/')[1].split('<')[0]
    ref = 'scan/' + ref
    early = call(qualys_sim, '/api/2.0/fo/scan/', 'fetch', scan_ref=ref, output_format='json')
    assert early.status_code == 400 and '(scan is Queued, no results yet)' in early.text
    qualys_sim.state.set_alive(['10.71.0.2', {'ip': '10.71.0.4', 'dns': 'lap4'}])
    qualys_sim.state.advance(190 + 600)
    fetched = call(qualys_sim, '/api/2.0/fo/scan/', 'fetch', scan_ref=ref, output_format='json')
    results = lib.parse_scan_results_json(fetched.text)
    assert results['finding_ips'] == {'10.71.0.2', '10.71.0.4'}
    assert results['not_scanned'] == {'not_alive': ['10.71.0.1, 10.71.0.3']}
    assert call(qualys_sim, '/api/5.0/fo/asset/host/', 'list').text.count('<HOST>') == 0    # not processed yet
    qualys_sim.state.advance(300)
    host_page = lib.parse_host_list(lib.parse_xml(call(qualys_sim, '/api/5.0/fo/asset/host/', 'list').text))
    assert [(h['ip'], h['dns']) for h in host_page['hosts']] == [('10.71.0.2', None), ('10.71.0.4', 'lap4')]
    assert host_page['hosts'][0]['last_vm_scanned_duration'] == '600'


@pytest.mark.parametrize('request_args, status, code', [
    (dict(path='/api/2.0/fo/scan', action='list'), 301, None),                     # trailing slash rule
    (dict(path='/api/9.0/fo/scan/', action='list'), 404, None),
    (dict(path='/api/2.0/fo/scan/', action='launch', method='GET'), 400, '1908'),  # launch is POST only
    (dict(path='/api/3.0/fo/scan/', action='list', requested_with=False), 400, '1903'),       # no X-Requested-With
    (dict(path='/api/3.0/fo/scan/', action='list', colour='red'), 400, '1901'),
    (dict(path='/api/3.0/fo/scan/', action='list', state='Cancelled'), 400, '1905'),
    (dict(path='/api/2.0/fo/scan/', action='launch', ip='10.0.0.1', option_title='Initial Options',
          option_id='1001'), 400, '1904'),
    (dict(path='/api/2.0/fo/scan/', action='launch', ip='10.0.0.1'), 400, '1903'),
    (dict(path='/api/2.0/fo/scan/', action='launch', ip='8.8.8.8', option_title='Initial Options'), 400, '1905'),
    (dict(path='/api/2.0/fo/scan/', action='launch', ip='10.0.0.1', option_title='Initial Options',
          iscanner_name='nope'), 400, '1905'),
])
def test_strict_refusals(qualys_sim, request_args, status, code):
    answer = call(qualys_sim, **request_args)
    assert answer.status_code == status
    if code:
        assert '<CODE>%s</CODE>' % code in answer.text
    else:
        assert answer.headers['Content-Type'].startswith('text/html')
    if status == 301:
        assert answer.headers['Location'].endswith('/api/2.0/fo/scan/?action=list')
    assert qualys_sim.state.scans == []


def test_rate_limit_block_has_documented_headers_and_body(qualys_sim, lib):
    qualys_sim.state.set_limits('scan:list', limit=2, window_sec=600)
    answers = [call(qualys_sim, '/api/3.0/fo/scan/', 'list') for dummy in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 409]
    assert answers[1].headers['X-RateLimit-Remaining'] == '0'
    blocked = answers[2]
    to_wait = int(blocked.headers['x-ratelimit-towait-sec'])
    assert 590 <= to_wait <= 600
    body = lib.parse_simple_return(lib.parse_xml(blocked.text))
    assert body['code'] == '1965' and body['items'] == {'SECONDS_TO_WAIT': str(to_wait)}
    assert re.match(r'^This API cannot be run again for another (\d+ minutes?)?( and )?(\d+ seconds?)?\.$', body['text'])
    assert call(qualys_sim, '/api/2.0/fo/scan/', 'fetch', scan_ref='scan/1.1').status_code == 400   # per API
    qualys_sim.state.advance(601)
    assert call(qualys_sim, '/api/3.0/fo/scan/', 'list').status_code == 200


def test_express_tier_allows_50_calls_a_day_per_api_on_a_stopped_clock():
    with QualysSimulator(config={'tier': 'express', 'clock': 'stopped'}) as sim:
        started = sim.state.now()
        answers = [call(sim, '/api/3.0/fo/scan/', 'list') for dummy in range(51)]
        assert sim.state.now() == started   # the clock moves only when told to
        assert [a.status_code for a in answers] == [200] * 50 + [409]
        first = answers[0].headers
        assert (first['X-RateLimit-Limit'], first['X-RateLimit-Window-Sec'], first['X-Concurrency-Limit-Limit']) == ('50', '86400', '1')
        assert answers[49].headers['X-RateLimit-Remaining'] == '0'
        assert answers[50].headers['X-RateLimit-ToWait-Sec'] == '86400'
        assert call(sim, '/api/2.0/fo/asset/host/', 'list').status_code == 200   # another API counts on its own
        sim.state.advance(86400)
        assert call(sim, '/api/3.0/fo/scan/', 'list').status_code == 200
    with pytest.raises(ValueError, match='unknown tier'):
        QualysSimulator(config={'tier': 'enterprise'})


def test_concurrency_block_takes_precedence_and_has_no_rate_headers(qualys_sim, lib):
    qualys_sim.state.set_limits('scan:list', concurrency=1)
    qualys_sim.state.add_fault('slow', api='scan:list', seconds=1.5)
    slow = {}
    worker = threading.Thread(target=lambda: slow.update(answer=call(qualys_sim, '/api/3.0/fo/scan/', 'list')))
    worker.start()
    for dummy in range(100):
        if qualys_sim.state.running['scan:list']:
            break
        threading.Event().wait(0.02)
    blocked = call(qualys_sim, '/api/3.0/fo/scan/', 'list')
    worker.join()
    assert slow['answer'].status_code == 200
    assert blocked.status_code == 409 and '<CODE>1960</CODE>' in blocked.text
    assert blocked.headers['X-Concurrency-Limit-Running'] == '2'
    assert 'X-RateLimit-ToWait-Sec' not in blocked.headers and 'X-RateLimit-Remaining' not in blocked.headers


def test_client_waits_out_a_genuine_rate_window(qualys_sim, lib):
    """Our client against the simulator's own rolling window (not an injected fault): it sleeps ToWait."""
    from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_client import QualysClient
    qualys_sim.state.set_limits('scan:list', limit=1, window_sec=2)
    client = QualysClient(qualys_sim.url, qualys_sim.username, qualys_sim.password, max_wait=10)
    client.list_scans({})
    client.list_scans({})
    statuses = [c['status'] for c in qualys_sim.state.calls]
    assert statuses == [200, 409, 200]
    assert 2 <= client.waited_seconds <= 4


def test_admin_api_over_http(qualys_sim):
    admin = qualys_sim.url + '/_sim/'
    assert requests.post(admin + 'config', json={'queue_seconds': 0, 'scan_seconds': 60}, timeout=5).ok
    ref = 'scan/' + launch(qualys_sim).text.split('<VALUE>scan/')[1].split('<')[0]
    assert requests.post(admin + 'alive', json={'ips': ['10.70.0.2']}, timeout=5).json() == {'alive': '10.70.0.2'}
    now = requests.post(admin + 'clock', json={'advance': 61}, timeout=5).json()['now']
    state = requests.get(admin + 'state', timeout=5).json()
    assert state['now'] == now and state['scans'][0]['state'] == 'Finished' and state['scans'][0]['ref'] == ref
    assert requests.post(admin + 'scans', json={'ref': ref, 'action': 'process'}, timeout=5).ok
    assert [h['ip'] for h in requests.get(admin + 'state', timeout=5).json()['hosts']] == ['10.70.0.2']
    assert requests.post(admin + 'faults', json={'kind': 'nonsense'}, timeout=5).status_code == 400
    assert requests.post(admin + 'faults', json={'kind': 'http_500', 'api': 'scan:list', 'count': 2}, timeout=5).ok
    assert [call(qualys_sim, '/api/3.0/fo/scan/', 'list').status_code for dummy in range(3)] == [500, 500, 200]
    calls = requests.get(admin + 'calls', timeout=5).json()['calls']
    assert [c['fault'] for c in calls[-3:]] == ['http_500', 'http_500', None]
    assert requests.post(admin + 'reset', json={}, timeout=5).ok
    assert requests.get(admin + 'state', timeout=5).json()['scans'] == []
    assert requests.get(admin + 'nothing', timeout=5).status_code == 404


def test_runs_standalone_and_prints_its_url():
    support = Path(__file__).resolve().parents[1] / 'support'
    proc = subprocess.Popen([sys.executable, '-m', 'qualys_sim', '--port', '0', '--password', 'standalone-pw'],
                            cwd=str(support), stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith('http://127.0.0.1:')
        answer = requests.post(url + '/api/3.0/fo/scan/', params={'action': 'list'}, headers=HEADERS,
                               auth=('roamscan_api', 'standalone-pw'), timeout=10)
        assert answer.status_code == 200 and '<SCAN_LIST_OUTPUT>' in answer.text
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_standalone_logs_each_request_without_the_password():
    """The command-line simulator logs method, path, action and status per request; the password, the
    Authorization header and its base64 never reach the log, whatever the client sends."""
    support = Path(__file__).resolve().parents[1] / 'support'
    password = 'log-must-not-show-this'
    proc = subprocess.Popen([sys.executable, '-m', 'qualys_sim', '--port', '0', '--password', password, '--fast'],
                            cwd=str(support), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip()
        listed = requests.post(url + '/api/2.0/fo/scan/', params={'action': 'list'}, headers=HEADERS,
                               auth=('roamscan_api', password), timeout=10)
        refused = requests.post(url + '/api/2.0/fo/scan/', data={'action': 'launch', 'password': password}, headers=HEADERS,
                                auth=('roamscan_api', password + '-wrong'), timeout=10)
        moved = subprocess.run([sys.executable, '-m', 'qualys_sim', '--port', url.rsplit(':', 1)[1], '--advance', '60'],
                               cwd=str(support), capture_output=True, text=True, timeout=30, check=True)
        assert listed.status_code == 200 and refused.status_code == 401
        assert re.match(r'\d{4}-\d\d-\d\dT', moved.stdout)
    finally:
        proc.terminate()
        dummy, log = proc.communicate(timeout=10)
    lines = log.splitlines()
    assert any(re.search(r' POST /api/2\.0/fo/scan/ action=list -> 200$', line) for line in lines), log
    assert any(re.search(r' POST /api/2\.0/fo/scan/ action=launch -> 401$', line) for line in lines), log
    assert any(re.search(r' POST /_sim/clock action=- -> 200$', line) for line in lines), log
    encoded = base64.b64encode(('roamscan_api:%s' % password).encode()).decode()
    for secret in (password, encoded, 'Authorization', 'Basic '):
        assert secret not in log


def test_fast_lifecycle_finishes_and_processes_a_scan_within_a_minute():
    with QualysSimulator(config=FAST) as sim:
        assert launch(sim).status_code == 200
        sim.state.advance(sum(FAST.values()), None)
        scan = sim.state.snapshot()['scans'][0]
    assert sum(FAST.values()) < 60
    assert scan['state'] == 'Finished' and scan['processed']
