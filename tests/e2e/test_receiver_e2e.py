# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Presence from real log forwarders and a Splunk-shaped webhook, end to end, in two namespaces.

The collector namespace (10.91.0.1): the presence receiver (the role's script) and a real rsyslogd receiving UDP
syslog into a file; the sender namespace (10.91.0.2): a real syslog-ng whose http() destination forwards
ASA and GlobalProtect lines to the receiver, util-linux logger sending UDP syslog, and curl posting
Splunk's webhook body. Each test ends with observations read back by the real modules.
"""
from __future__ import annotations

import calendar
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from log_lab import LogLab, append_lines, asa_722051_line, globalprotect_line, iso_stamp, require_tools, wait_for_lines
from netns import run
from receiver_lab import SECRETS, ReceiverLab

pytestmark = pytest.mark.root

SRV_IP, CLI_IP = '10.91.0.1', '10.91.0.2'


@pytest.fixture(scope='module')
def lab():
    require_tools('syslog-ng', 'curl', 'logger', 'rsyslogd')
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-receiver-e2e-'))
    try:
        with LogLab(workdir / 'net', 'rcv', SRV_IP, CLI_IP) as net:
            receiver = net.start_receiver(ReceiverLab(workdir / 'receiver', address=SRV_IP, port=8780))
            yield {'dir': workdir, 'net': net, 'receiver': receiver}
    finally:
        if os.environ.get("ROAMSCAN_KEEP") is None:
            shutil.rmtree(workdir, ignore_errors=True)


def module(run_ansible, name, args):
    """Run collection module ``name`` on localhost with real ansible; its result."""
    proc = run_ansible('ansible', 'localhost', '-c', 'local', '-m', 'roamscan.qualys.' + name, '-a', json.dumps(args))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout.split(' => ', 1)[1])


def seconds_held(observation):
    """How long an observation holds its IP: its ``until`` after its ``time``."""
    return calendar.timegm(time.strptime(observation['until'], '%Y-%m-%dT%H:%M:%SZ')) - calendar.timegm(
        time.strptime(observation['time'], '%Y-%m-%dT%H:%M:%SZ'))


def receiver_observations(run_ansible, receiver):
    return module(run_ansible, 'presence_events', {'spool_dir': str(receiver.spool_dir), 'source': 'receiver'})['observations']


def test_syslog_ng_http_forwards_asa_and_globalprotect_lines(lab, run_ansible):
    source = lab['dir'] / 'net' / 'vpn-in.log'
    lab['net'].start_syslog_ng(source, 'http://%s:8780/v1/presence/syslog' % SRV_IP, SECRETS['syslog'])
    now = int(time.time())
    append_lines(source, [asa_722051_line(now, 'ng-alice', '10.10.20.11'),
                          globalprotect_line(now, 'gateway-setup-ipsec', 'ng-bob', '10.20.30.41'),
                          '%s asa1 : %%ASA-6-302013: Built inbound TCP connection 1 for outside:1.2.3.4/5 to '
                          'inside:10.0.0.1/22' % iso_stamp(now)])
    receiver = lab['receiver']
    wait_for_lines(lambda: [line for line in receiver.spool_lines() if ' vpn_user ng-' in line], 2, 'syslog-ng to deliver')
    observations = {o['identity']['value']: o for o in receiver_observations(run_ansible, receiver)}
    alice, bob = observations['ng-alice'], observations['ng-bob']
    assert (alice['event'], alice['ip'], alice['source']['kind'], alice['authority']) == ('start', '10.10.20.11', 'receiver', 'log')
    assert (bob['event'], bob['ip']) == ('start', '10.20.30.41')
    assert bob['aliases']['machine'] == 'LAPTOP-17' and bob['aliases']['parser'] == 'globalprotect'
    # posted presence has no live table: the endpoint's max_session (default 12 h) bounds the holding
    assert seconds_held(alice) == 43200
    assert SECRETS['syslog'] not in receiver.log_path.read_text()


def test_rsyslog_receives_udp_syslog_that_log_presence_reads(lab, run_ansible):
    base = lab['dir'] / 'rsyslog'
    base.mkdir()
    log = base / 'vpn.log'
    lab['net'].start_rsyslog(log)
    state = base / 'log_presence.json'
    first = module(run_ansible, 'log_presence', {'paths': [str(log)], 'state_file': str(state)})
    assert first['observations'] == []
    messages = [
        ('asa', '%ASA-4-722051: Group <vpn> User <udp-carol> IP <198.51.100.7> IPv4 Address <10.88.0.17> '
                'IPv6 address <::> assigned to session'),
        ('fgt', 'date=%s time=%s logid="0101039947" type="event" subtype="vpn" level="information" vd="root" '
                'logdesc="SSL VPN tunnel up" action="tunnel-up" tunneltype="ssl-tunnel" tunnelid=1 remip=203.0.113.9 '
                'tunnelip=10.212.134.200 user="udp-dave" msg="SSL tunnel established"'
                % (time.strftime('%Y-%m-%d'), time.strftime('%H:%M:%S'))),
        ('asa', '%ASA-4-113019: Group = vpn, Username = udp-carol, IP = 198.51.100.7, Session disconnected. '
                'Session Type: SSL, Duration: 0h:00m:05s, Bytes xmt: 1, Bytes rcv: 1, Reason: User Requested'),
    ]
    for tag, message in messages:
        lab['net'].send_udp_syslog(tag, message)
    wait_for_lines(lambda: log.read_text().splitlines() if log.exists() else [], 3, 'rsyslog to write the lines')
    second = module(run_ansible, 'log_presence', {'paths': [str(log)], 'state_file': str(state), 'max_session': 600})
    summary = [(o['event'], o['identity']['value'], o['ip'], o['authority']) for o in second['observations']]
    assert summary == [('start', 'udp-carol', '10.88.0.17', 'log'), ('start', 'udp-dave', '10.212.134.200', 'log'),
                       ('end', 'udp-carol', None, 'log')]
    assert seconds_held(second['observations'][0]) == 600
    third = module(run_ansible, 'log_presence', {'paths': [str(log)], 'state_file': str(state), 'ack': second['cursor']})
    assert third['observations'] == []


def test_splunk_webhook_body_with_curl_from_another_namespace(lab, run_ansible):
    # exactly the shape Splunk's webhook alert action posts (alerting manual, "Use a webhook alert
    # action"): sid, results_link, search_name, owner, app and the first result row
    body = {
        'result': {'user': 'splunk-erin', 'src_ip': '10.8.0.77', 'src_mac': '02:77:00:00:0b:07',
                   '_time': str(int(time.time()) - 5), 'count': '1'},
        'sid': 'scheduler__admin__search__RMD5vpn_at_1796115600_42',
        'results_link': 'http://splunk.example:8000/app/search/@go?sid=scheduler__admin__search__RMD5vpn_at_1796115600_42',
        'search_name': 'VPN sessions started',
        'owner': 'admin',
        'app': 'search',
    }
    url = 'http://%s:8780/v1/presence/splunk/%s' % (SRV_IP, SECRETS['splunk'])
    for attempt in range(2):  # Splunk retries; the second post must not write again
        proc = run('ip', 'netns', 'exec', lab['net'].sender_ns, 'curl', '-sS', '-o', '-', '-w', '\n%{http_code}', '-H', 'Content-Type: application/json',
                   '--data-binary', json.dumps(body), url)
        answer, status = proc.stdout.rsplit('\n', 1)
        assert status == '200', proc.stdout
        assert json.loads(answer)['accepted'] == (1 if attempt == 0 else 0)
    receiver = lab['receiver']
    erin = [o for o in receiver_observations(run_ansible, receiver) if o['identity']['value'] == 'splunk-erin']
    assert len(erin) == 1
    assert (erin[0]['ip'], erin[0]['event'], erin[0]['aliases']['mac']) == ('10.8.0.77', 'seen', '02:77:00:00:0b:07')
    assert SECRETS['splunk'] not in receiver.log_path.read_text()
