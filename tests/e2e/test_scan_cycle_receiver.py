# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: presence posted to the presence receiver, through the real cycle (ansible-playbook
roamscan.qualys.scan_overdue against the Qualys simulator), with roamscan_credit_log_presence on.

1. A real syslog-ng in a VPN log host's namespace follows the concentrators' log and forwards each line with its
   http() destination (Bearer token) to the receiver in the collector's namespace: two ASA sessions (722051) and a
   GlobalProtect session (gateway-connected) give one launch with the three tunnel IPs; a GlobalProtect logout and
   an ASA disconnect (113019: it names the user, not the tunnel IP) logged after the launch and before the cycle
   sees the scan finished leave those users uncredited, the third is credited as log-based.
2. Splunk's webhook alert action: the test posts exactly its JSON body (the token in the URL) to the receiver on
   loopback. Forged posts (wrong token, bad or stale HMAC) write nothing and launch nothing; the two sessions are
   launched together; a later end alert before the scan's end (and Splunk's retry of the start alert after it)
   leaves that user uncredited, the user whose session holds is credited.

Times: every log line and alert carries its own timestamp, and each "after the launch" / "before the scan's end"
premise is a whole second or more (the records count whole seconds), waited for explicitly.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_scan_cycle_receiver.py   (root)
"""
from __future__ import annotations

import calendar
import json
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from cycle_lab import CycleLab, launch_call_ips, launch_calls, summary_of
from log_lab import LogLab, append_lines, asa_113019_line, asa_722051_line, globalprotect_line, require_tools, wait_for_lines
from netns import wait_until
from receiver_lab import SECRETS, ReceiverLab

pytestmark = [pytest.mark.root, pytest.mark.slow]

COLLECTOR_IP, LOG_HOST_IP = '10.93.0.1', '10.93.0.2'
LOG_CREDIT = {'roamscan_credit_log_presence': True}


def cycle(lab, sim):
    proc = lab.run(sim, extra_vars=LOG_CREDIT)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return summary_of(proc)


def launched_at(lab, key):
    """Epoch of the launch the identity ``key``'s record is pending on (whole seconds, as recorded)."""
    pending = lab.records()[key]['pending']
    return calendar.timegm(time.strptime(pending['launched_at'], '%Y-%m-%dT%H:%M:%SZ'))


def end_after_launch(lab, key):
    """A session end time a whole second after the launch (never in the future by more than that second)."""
    return max(int(time.time()), launched_at(lab, key) + 1)


def past(moment):
    """Wait until ``moment`` is a whole second behind us: the next cycle sees the scan finished after it."""
    wait_until(lambda: time.time() >= moment + 1.5, 30, what='a whole second after the session end')


def assert_credit(lab, summary, credited, *uncredited):
    """``credited`` (log-based) and ``uncredited`` identity keys after the cycle that saw the scan finished."""
    assert [str(key) for key in summary['credited_from_log']] == [credited]
    assert sorted(str(item['identity']) for item in summary['not_credited']) == sorted(uncredited)
    records = lab.records()
    assert records[credited]['last_scanned'] and records[credited]['last_scan_authority'] == 'log'
    assert all(records[key].get('last_scanned') is None for key in uncredited)


def receiver_lines(receiver, text):
    return [line for line in receiver.spool_lines() if text in line]


@pytest.fixture(name='forwarded')
def forwarded_fixture(ansible_env):
    require_tools('syslog-ng')
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-receiver-cycle-'))
    try:
        with LogLab(workdir / 'net', 'siem', COLLECTOR_IP, LOG_HOST_IP) as net:
            receiver = net.start_receiver(ReceiverLab(workdir / 'receiver', address=COLLECTOR_IP, port=8780))
            concentrators_log = workdir / 'net' / 'vpn-in.log'
            net.start_syslog_ng(concentrators_log, 'http://%s:8780/v1/presence/syslog' % COLLECTOR_IP, SECRETS['syslog'])
            lab = CycleLab(workdir / 'controller', ansible_env)
            lab.add_group_host('presence_receivers', 'collector1', roamscan_receiver_spool_dir=str(receiver.spool_dir))
            yield lab, receiver, concentrators_log
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_syslog_ng_forwards_asa_and_globalprotect_sessions_into_one_launch_and_credit_while_held(forwarded, qualys_sim):
    lab, receiver, concentrators_log = forwarded
    connected = int(time.time()) - 60
    append_lines(concentrators_log, [asa_722051_line(connected, 'ng-alice', '10.88.1.11'),
                                     globalprotect_line(connected, 'gateway-connected', 'ng-bob', '10.88.1.12'),
                                     asa_722051_line(connected, 'ng-carol', '10.88.1.13')])
    wait_for_lines(lambda: receiver_lines(receiver, ' connect vpn_user ng-'), 3, 'syslog-ng to post the three connects')

    first = cycle(lab, qualys_sim)
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1 and sorted(launch_call_ips(calls[0])) == ['10.88.1.11', '10.88.1.12', '10.88.1.13']
    assert first['log_sources_reported'] == ['collector1']

    ended = max(end_after_launch(lab, 'vpn_user:ng-bob'), end_after_launch(lab, 'vpn_user:ng-carol'))
    append_lines(concentrators_log, [globalprotect_line(ended, 'gateway-logout', 'ng-bob', '10.88.1.12'),
                                     asa_113019_line(ended, 'ng-carol')])
    wait_for_lines(lambda: receiver_lines(receiver, ' disconnect vpn_user ng-bob '), 1, 'syslog-ng to post the logout')
    # the ASA disconnect names no tunnel IP: spooled with IP "-", it ends what ng-carol holds from the receiver
    wait_for_lines(lambda: receiver_lines(receiver, ' disconnect vpn_user ng-carol - '), 1, 'syslog-ng to post the 113019')
    past(ended)
    qualys_sim.state.scan_action('*', 'process')
    assert_credit(lab, cycle(lab, qualys_sim), 'vpn_user:ng-alice', 'vpn_user:ng-bob', 'vpn_user:ng-carol')
    carol = lab.records()['vpn_user:ng-carol']
    assert carol['lease_state'] != 'active' and carol['ip_history'][-1]['ip'] == '10.88.1.13'
    assert carol['ip_history'][-1]['to'] == time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(ended))
    assert len(launch_calls(qualys_sim)) == 1
    assert SECRETS['syslog'] not in receiver.log_path.read_text()


def splunk_alert(sid, user, tunnel_ip, action, moment):
    """Exactly the body Splunk's webhook alert action posts: the search's first result row (all values strings, as
    Splunk sends them) under "result", the search id, the link to the results, the search's name, owner and app."""
    return json.dumps({
        'result': {'_time': str(moment), 'user': user, 'src_ip': tunnel_ip, 'action': action, 'count': '1'},
        'sid': sid,
        'results_link': 'http://splunk.example:8000/app/search/@go?sid=%s' % sid,
        'search_name': 'VPN sessions',
        'owner': 'admin',
        'app': 'search',
    })


@pytest.fixture(name='webhook')
def webhook_fixture(ansible_env):
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-splunk-cycle-'))
    receiver = ReceiverLab(workdir / 'receiver').start()   # loopback
    try:
        lab = CycleLab(workdir / 'controller', ansible_env)
        lab.add_group_host('presence_receivers', 'collector1', roamscan_receiver_spool_dir=str(receiver.spool_dir))
        yield lab, receiver
    finally:
        receiver.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def test_splunk_webhook_alerts_launch_the_tunnel_ip_and_credit_only_while_the_session_holds(webhook, qualys_sim):
    lab, receiver = webhook
    url = '/v1/presence/splunk_sessions/' + SECRETS['splunk_sessions']
    started = int(time.time()) - 60
    erin_start = splunk_alert('rt_md_1796115600.42', 'splunk-erin', '10.8.0.77', 'start', started)
    for body in (erin_start, splunk_alert('rt_md_1796115600.43', 'splunk-frank', '10.8.0.78', 'start', started)):
        assert receiver.post(url, body)[0] == 200

    forged = splunk_alert('rt_md_1796115600.44', 'splunk-mallory', '10.8.0.66', 'start', started)
    assert receiver.post(url[:-1] + 'X', forged)[0] == 403
    assert receiver.post('/v1/presence/splunk_sessions', forged)[0] == 401
    mallory = json.dumps({'event': 'start', 'identity': {'kind': 'vpn_user', 'value': 'splunk-mallory'},
                          'ip': '10.8.0.66', 'event_id': 'forged-1'}).encode()
    assert receiver.post('/v1/presence/signed', mallory, receiver.signed(mallory, secret='not-the-shared-secret-0000'))[0] == 403
    assert receiver.post('/v1/presence/signed', mallory, receiver.signed(mallory, stamp=int(time.time()) - 3600))[0] == 403
    assert len(receiver.spool_lines()) == 2

    cycle(lab, qualys_sim)
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1 and sorted(launch_call_ips(calls[0])) == ['10.8.0.77', '10.8.0.78']
    assert 'vpn_user:splunk-mallory' not in lab.records()

    ended = end_after_launch(lab, 'vpn_user:splunk-erin')
    assert receiver.post(url, splunk_alert('rt_md_1796119200.7', 'splunk-erin', '10.8.0.77', 'end', ended)) == (
        200, {'accepted': 1, 'duplicates': 0, 'skipped': {}})
    # Splunk retries an alert whose answer it missed: the start is not written again, the session stays ended
    assert receiver.post(url, erin_start) == (200, {'accepted': 0, 'duplicates': 1, 'skipped': {}})
    past(ended)
    qualys_sim.state.scan_action('*', 'process')
    assert_credit(lab, cycle(lab, qualys_sim), 'vpn_user:splunk-frank', 'vpn_user:splunk-erin')
    assert len(launch_calls(qualys_sim)) == 1
    log = receiver.log_path.read_text()
    assert SECRETS['splunk_sessions'] not in log and SECRETS['signed'] not in log
