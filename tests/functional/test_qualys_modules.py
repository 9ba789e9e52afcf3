# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The three Qualys modules through real ansible-playbook against the strict simulator."""
from __future__ import annotations

import json

import requests

from qualys_fixtures import admin_task, api_calls


LAUNCH = {'option_profile': 'Laptop Light Scan', 'scanner': ['laptop_scanner_1']}


def laptop_ips(count, third_octet_base=77):
    """Scattered laptop addresses (every third IP), so they do not collapse into one range."""
    return ['10.%d.%d.%d' % (third_octet_base + i // 80, (i % 80) // 2, 3 * (i % 2) + 10) for i in range(count)]


def launch_task(register, title, targets, **options):
    module_args = dict(LAUNCH, title=title, targets=targets)
    module_args.update(options)
    return {'name': 'launch %s' % title, 'roamscan.qualys.qualys_scan_launch': module_args, 'register': register}


def sim_launch(sim, title, ips):
    """Launch directly over HTTP (not through our client), as another job would."""
    answer = requests.post(sim.url + '/api/2.0/fo/scan/', params={'action': 'launch'}, auth=(sim.username, sim.password),
                           headers={'X-Requested-With': 'functional test'}, timeout=10,
                           data={'scan_title': title, 'ip': ','.join(ips), 'option_title': 'Initial Options',
                                 'iscanner_name': 'laptop_scanner_1'})
    assert answer.status_code == 200, answer.text
    return answer.text.split('<KEY>REFERENCE</KEY><VALUE>')[1].split('<')[0]


def test_500_laptops_go_out_in_one_launch_call_and_splits_are_minimal(qualys_play, qualys_sim):
    ips = laptop_ips(500)
    assert len(set(ips)) == 500
    play = qualys_play([launch_task('one', 'cycle 1', '{{ ips }}'),
                        launch_task('split', 'cycle 2', '{{ ips }}', max_targets_per_scan=200)],
                       extra_vars={'ips': ips})
    assert play.proc.returncode == 0, play.output[-3000:]
    one = play['one']
    assert one['changed'] and len(one['scans']) == 1 and one['scan_refs'] == [one['scans'][0]['ref']]
    assert one['api_calls'] == 2                      # the reuse_active lookup + ONE launch
    assert one['rate_limit'] == {'limit': 300, 'remaining': 299, 'window_sec': 3600}
    launches = api_calls(qualys_sim, 'scan:launch')
    assert len(launches) == 1 + 3
    first_scan = qualys_sim.state.snapshot()['scans'][0]
    assert first_scan['ref'] == one['scan_refs'][0]
    assert sorted(requests.utils.unquote(launches[0]['params']['ip']).split(',')) == sorted(ips)
    split = play['split']
    assert [s['title'] for s in split['scans']] == ['cycle 2 [1/3]', 'cycle 2 [2/3]', 'cycle 2 [3/3]']
    per_scan = [len(s['targets']) for s in split['scans']]
    assert per_scan == [200, 200, 100]


def test_20_scans_read_in_one_call_per_poll_and_results_credit_only_alive(qualys_play, qualys_sim):
    refs, pairs = [], []
    for number in range(20):
        pair = ['10.50.%d.10' % number, '10.50.%d.11' % number]
        pairs.append(pair)
        refs.append(sim_launch(qualys_sim, 'batch %d' % number, pair))
    alive = [{'ip': pair[0], 'dns': 'laptop-%d.corp.example' % n} for n, pair in enumerate(pairs)]
    qualys_sim.state.set_alive(alive)
    qualys_sim.state.calls.clear()
    launched = qualys_sim.state.snapshot()['scans'][0]['launched']
    status = {'roamscan.qualys.qualys_scan_status': {'scan_refs': '{{ refs }}'}}
    play = qualys_play([
        dict(status, name='poll 1', register='queued'),
        admin_task('scans', {'ref': '*', 'action': 'finish'}),
        dict(status, name='poll 2', register='finished'),
        admin_task('scans', {'ref': '*', 'action': 'process'}),
        dict(status, name='poll 3', register='processed'),
        dict(status, name='poll 4', register='again'),
        {'name': 'who was scanned', 'register': 'coverage', 'roamscan.qualys.host_last_scanned': {
            'hosts': [{'ip': pairs[0][0], 'mac': '2:77:0:0:a:1', 'held_since': launched},
                      {'ip': pairs[0][1], 'mac': '02:77:00:00:0a:02'},
                      {'ip': pairs[1][0], 'mac': '02:77:00:00:0a:03', 'held_since': '2099-01-01T00:00:00Z'}]}},
    ], extra_vars={'refs': refs})
    assert play.proc.returncode == 0, play.output[-3000:]
    assert play['queued']['api_calls'] == 1 and {s['state'] for s in play['queued']['scans']} == {'Queued'}
    assert play['finished']['api_calls'] == 1
    assert all(s['state'] == 'Finished' and not s['processed'] and not s['done'] and s['scanned'] == []
               for s in play['finished']['scans'])
    processed = play['processed']
    assert processed['api_calls'] == 1 + 20           # one poll + each scan's results fetched once
    assert processed['all_done'] is True
    for scan, pair in zip(processed['scans'], pairs):
        assert scan['scanned'] == [pair[0]]
        assert scan['not_scanned'] == [{'ip': pair[1], 'reason': 'not_alive'}]
    assert play['again']['api_calls'] == 1 + 20       # a new task run re-reads results (no state kept)
    assert len(api_calls(qualys_sim, 'scan:list')) == 4
    lap1, dead, reused_ip = play['coverage']['hosts']
    assert (lap1['source'], lap1['overdue'], lap1['qualys']['dns']) == ('qualys', False, 'laptop-0.corp.example')
    assert (dead['source'], dead['overdue'], dead['qualys']) == ('none', True, None)
    assert (reused_ip['source'], reused_ip['overdue']) == ('none', True)    # scanned before this MAC held the IP
    assert play['coverage']['overdue'] == [pairs[0][1], pairs[1][0]]
    assert play['coverage']['api_calls'] == 1


def test_lost_launch_answer_then_retried_task_leaves_exactly_one_scan(qualys_play, qualys_sim):
    qualys_sim.state.add_fault('drop_response', api='scan:launch')
    play = qualys_play([
        dict(launch_task('unsafe', 'lost answer', ['10.60.0.1-10.60.0.9'], reuse_active=False), ignore_errors=True),
        dict(launch_task('retried', 'lost answer', ['10.60.0.1-10.60.0.9']), retries=2, delay=0,
             until='retried is succeeded'),
        launch_task('rerun', 'lost answer', ['10.60.0.1-10.60.0.9']),
    ])
    assert play.proc.returncode == 0, play.output[-3000:]
    unsafe = play['unsafe']
    assert unsafe['failed'] and unsafe['error'] == 'QualysLaunchOutcomeUnknown'
    assert 'not re-sent' in unsafe['msg'] and 'reuse_active=true' in unsafe['msg']
    (scan,) = qualys_sim.state.snapshot()['scans']
    for name in ('retried', 'rerun'):
        assert play[name]['scans'][0]['reused'] and play[name]['scan_refs'] == [scan['ref']]
        assert play[name]['changed'] is False
    assert len(api_calls(qualys_sim, 'scan:launch')) == 1


def test_lost_launch_answer_recovered_within_the_same_task(qualys_play, qualys_sim):
    qualys_sim.state.add_fault('drop_response', api='scan:launch')
    play = qualys_play([launch_task('recovered', 'recover me', ['10.61.0.5'])])
    assert play.proc.returncode == 0, play.output[-3000:]
    (scan,) = qualys_sim.state.snapshot()['scans']
    assert play['recovered']['scan_refs'] == [scan['ref']]
    assert 'answer to launching "recover me" was lost' in play.output
    assert [c['api'] for c in qualys_sim.state.calls] == ['scan:list', 'scan:launch', 'scan:list']


def test_rate_limit_409_waits_within_max_wait_and_fails_at_once_beyond(qualys_play, qualys_sim):
    qualys_sim.state.add_fault('rate_409', api='scan:launch', to_wait=2)
    play = qualys_play([
        launch_task('waited', 'rate 1', ['10.62.0.1'], max_wait=10),
        admin_task('faults', {'kind': 'rate_409', 'api': 'scan:launch', 'to_wait': 7200}),
        dict(launch_task('refused', 'rate 2', ['10.62.0.2'], max_wait=60), ignore_errors=True),
    ])
    assert play.proc.returncode == 0, play.output[-3000:]
    assert play['waited']['changed'] and len(play['waited']['scans']) == 1
    assert play['waited']['api_calls'] == 3           # lookup + blocked launch + launch after the wait
    refused = play['refused']
    assert refused['failed'] and refused['error'] == 'QualysRateLimitError'
    assert 'wait 2 h (7200 s)' in refused['msg'] and 'max_wait=60 s' in refused['msg']
    assert refused['qualys_wait_seconds'] == 7200 and refused['qualys_code'] == '1965'
    launches = api_calls(qualys_sim, 'scan:launch')
    assert [c['status'] for c in launches] == [409, 200, 409]       # no retry storm
    assert len(qualys_sim.state.snapshot()['scans']) == 1


def test_hostile_answers_fail_clearly(qualys_play, qualys_sim):
    ref = sim_launch(qualys_sim, 'hostile', ['10.63.0.1'])
    status = {'roamscan.qualys.qualys_scan_status': {'scan_refs': [ref]}, 'ignore_errors': True}
    play = qualys_play([
        admin_task('faults', {'kind': 'xml_bomb', 'api': 'host:list'}),
        {'roamscan.qualys.host_last_scanned': {'hosts': ['10.63.0.1']}, 'register': 'bomb', 'ignore_errors': True},
        admin_task('faults', {'kind': 'http_503_html', 'api': 'scan:launch'}),
        dict(launch_task('maintenance', 'hostile 2', ['10.63.0.2']), ignore_errors=True),
        admin_task('faults', {'kind': 'error_in_200', 'api': 'scan:list'}),
        dict(status, register='expired'),
        admin_task('faults', {'kind': 'malformed_xml', 'api': 'scan:list'}),
        dict(status, register='malformed'),
        admin_task('faults', {'kind': 'http_503_html', 'api': 'scan:list'}),
        dict(status, register='read_retried'),
        admin_task('faults', {'kind': 'concurrency_409', 'api': 'scan:list'}),
        dict(status, register='backed_off'),
    ])
    assert play.proc.returncode == 0, play.output[-3000:]
    assert play['bomb']['failed'] and play['bomb']['error'] == 'QualysUnsafeXmlError'
    assert 'XML bomb cannot expand' in play['bomb']['msg']
    maintenance = play['maintenance']
    assert maintenance['failed'] and maintenance['error'] == 'QualysUnavailableError'
    assert 'HTTP 503 with an HTML page "Qualys - Scheduled Maintenance" (planned maintenance?)' in maintenance['msg']
    assert 'most likely not launched; re-running is safe' in maintenance['msg']
    assert play['expired']['failed'] and play['expired']['qualys_code'] == '2001'
    assert 'This account has expired' in play['expired']['msg']
    assert play['malformed']['failed'] and 'not well-formed' in play['malformed']['msg']
    assert play['read_retried']['scans'][0]['state'] == 'Queued' and play['read_retried']['api_calls'] == 2
    assert play['backed_off']['scans'][0]['state'] == 'Queued' and play['backed_off']['api_calls'] == 2
    assert len(qualys_sim.state.snapshot()['scans']) == 1     # the 503'd launch created nothing


def test_check_mode_and_bad_input_make_no_api_call(qualys_play, qualys_sim):
    play = qualys_play([
        dict(launch_task('planned', 'check', ['10.64.0.1-10.64.0.10'], max_targets_per_scan=4), check_mode=True),
        {'roamscan.qualys.qualys_scan_launch': {'title': 'x', 'targets': ['10.64.0.1'], 'option_profile': 'p'},
         'register': 'no_scanner', 'ignore_errors': True},
        dict(launch_task('bad_targets', 'x', ['10.64.0.1', '10.64.0.300', '10.64.0.9-10.64.0.2']),
             ignore_errors=True),
        {'roamscan.qualys.qualys_scan_status': {'scan_refs': ['scan/1.1'], 'poll_interval': 5},
         'register': 'fast_poll', 'ignore_errors': True},
        {'roamscan.qualys.host_last_scanned': {'hosts': ['10.64.0.1', {'ip': '10.64.0.2', 'mac': 'nope'}]},
         'register': 'bad_hosts', 'ignore_errors': True},
    ])
    assert play.proc.returncode == 0, play.output[-3000:]
    planned = play['planned']
    assert planned['changed'] and planned['api_calls'] == 0 and planned['scan_refs'] == []
    assert [s['targets'] for s in planned['scans']] == [['10.64.0.1-10.64.0.4'], ['10.64.0.5-10.64.0.8'],
                                                        ['10.64.0.9-10.64.0.10']]
    assert 'external scanners, which cannot reach laptops' in play['no_scanner']['msg']
    assert '10.64.0.300' in play['bad_targets']['msg'] and 'backwards' in play['bad_targets']['msg']
    assert 'poll_interval must be at least 30' in play['fast_poll']['msg']
    assert 'hosts[1]' in play['bad_hosts']['msg']
    assert qualys_sim.state.calls == []


def test_password_never_in_output_logs_or_requests(qualys_play, qualys_sim):
    """qualys_play checks stdout, stderr, the Ansible log and results; this run adds -vvvv and error paths."""
    qualys_sim.state.add_fault('drop_response', api='scan:launch')
    play = qualys_play([
        launch_task('launched', 'secret check', ['10.65.0.1']),
        {'roamscan.qualys.qualys_scan_status': {'scan_refs': '{{ launched.scan_refs }}'}, 'register': 'status'},
        admin_task('faults', {'kind': 'xml_bomb', 'api': 'scan:list'}),
        {'roamscan.qualys.qualys_scan_status': {'scan_refs': '{{ launched.scan_refs }}'}, 'ignore_errors': True},
        {'roamscan.qualys.host_last_scanned': {'hosts': ['10.65.0.1'], 'password': 'not-the-real-one'},
         'register': 'bad_login', 'ignore_errors': True},
    ], verbosity=4)
    assert play.proc.returncode == 0, play.output[-3000:]
    assert 'QUALYS_PASSWORD' not in play.output
    assert play['bad_login']['error'] == 'QualysAuthError' and 'Bad Login/Password' in play['bad_login']['msg']
    sent = json.dumps(qualys_sim.state.calls)
    assert qualys_sim.password not in sent        # never in a URL, query or form body
    assert len(qualys_sim.state.calls) >= 5


def test_ansible_doc_renders_every_module_with_examples_and_return(run_ansible):
    modules = ['roamscan.qualys.qualys_scan_launch', 'roamscan.qualys.qualys_scan_status',
               'roamscan.qualys.host_last_scanned', 'roamscan.qualys.qualys_login_check']
    docs = json.loads(run_ansible('ansible-doc', '--json', *modules, check=True).stdout)
    for name in modules:
        assert docs[name]['examples'].strip() and docs[name]['return']
        assert 'password' in docs[name]['doc']['options']
        assert docs[name]['doc']['attributes']['action_group']['membership'] == ['roamscan.qualys.qualys']
    for name in modules:
        text = run_ansible('ansible-doc', name, check=True).stdout
        assert 'EXAMPLES:' in text and 'RETURN VALUES:' in text and 'QUALYS_PASSWORD' in text
