# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Presence from real log forwarders and a Splunk-shaped webhook, end to end, in two namespaces.

receiver-srv (10.91.0.1): the presence receiver (the role's script) and a real rsyslogd receiving UDP
syslog into a file; receiver-cli (10.91.0.2): a real syslog-ng whose http() destination forwards
ASA and GlobalProtect lines to the receiver, util-linux logger sending UDP syslog, and curl posting
Splunk's webhook body. Each test ends with observations read back by the real modules.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from receiver_lab import SECRETS, ReceiverLab

pytestmark = pytest.mark.root

SRV, CLI = 'receiver-srv', 'receiver-cli'
SRV_IP, CLI_IP = '10.91.0.1', '10.91.0.2'
# rsyslog and syslog-ng-core conflict as Debian packages (both provide system-log-daemon); the real
# rsyslogd comes from its .deb unpacked here by scripts/install-system-deps.
RSYSLOG_ROOT = Path(os.environ.get('ROAMSCAN_RSYSLOG_ROOT', '/opt/roamscan-rsyslog'))
RSYSLOGD = RSYSLOG_ROOT / 'usr' / 'sbin' / 'rsyslogd'
RSYSLOG_MODULES = RSYSLOG_ROOT / 'usr' / 'lib' / 'x86_64-linux-gnu' / 'rsyslog'


def sh(*argv, check=True):
    return subprocess.run(argv, check=check, capture_output=True, text=True, timeout=60)


def in_ns(namespace, *argv):
    return ['ip', 'netns', 'exec', namespace, *argv]


def wait_for(predicate, what, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError('timed out waiting for %s' % what)


@pytest.fixture(scope='module')
def lab():
    for tool in ('syslog-ng', 'curl', 'logger'):
        if shutil.which(tool) is None:
            pytest.fail('%s missing: run scripts/install-system-deps' % tool)
    if not RSYSLOGD.exists():
        pytest.fail('%s missing: run scripts/install-system-deps' % RSYSLOGD)
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-receiver-e2e-'))
    processes = []
    for namespace in (SRV, CLI):
        sh('ip', 'netns', 'del', namespace, check=False)
        sh('ip', 'netns', 'add', namespace)
    try:
        sh('ip', 'link', 'add', 'rcv-srv0', 'netns', SRV, 'type', 'veth', 'peer', 'name', 'rcv-cli0', 'netns', CLI)
        for namespace, device, address in ((SRV, 'rcv-srv0', SRV_IP), (CLI, 'rcv-cli0', CLI_IP)):
            sh(*in_ns(namespace, 'ip', 'addr', 'add', address + '/24', 'dev', device))
            sh(*in_ns(namespace, 'ip', 'link', 'set', device, 'up'))
            sh(*in_ns(namespace, 'ip', 'link', 'set', 'lo', 'up'))
        receiver = ReceiverLab(workdir / 'receiver', address=SRV_IP, port=8780).start(in_ns(SRV))
        processes.append(receiver)
        yield {'dir': workdir, 'receiver': receiver, 'processes': processes}
    finally:
        for process in reversed(processes):
            process.stop()
        for namespace in (SRV, CLI):
            sh('ip', 'netns', 'del', namespace, check=False)
        if os.environ.get("ROAMSCAN_KEEP") is None:
            shutil.rmtree(workdir, ignore_errors=True)


class Daemon:
    """A real daemon in a namespace, stopped by its PID."""

    def __init__(self, argv, log):
        self.log = open(log, 'ab')
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)

    def running(self):
        time.sleep(1)
        assert self.process.poll() is None, 'daemon exited: %s' % Path(self.log.name).read_text()[-2000:]

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def module(run_ansible, name, args):
    """Run collection module ``name`` on localhost with real ansible; its result."""
    proc = run_ansible('ansible', 'localhost', '-c', 'local', '-m', 'roamscan.qualys.' + name, '-a', json.dumps(args))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    return json.loads(proc.stdout.split(' => ', 1)[1])


def receiver_observations(run_ansible, receiver):
    return module(run_ansible, 'presence_events', {'spool_dir': str(receiver.spool_dir), 'source': 'receiver'})['observations']


def test_syslog_ng_http_forwards_asa_and_globalprotect_lines(lab, run_ansible):
    base = lab['dir'] / 'syslog-ng'
    base.mkdir()
    source = base / 'vpn-in.log'
    source.write_text('')
    config = base / 'syslog-ng.conf'
    config.write_text('''@version: 3.38
options { stats_freq(0); };
source s_vpn { file("%s" follow-freq(0.2) flags(no-parse)); };
destination d_receiver {
  http(url("http://%s:8780/v1/presence/syslog") method("POST")
       headers("Authorization: Bearer %s", "Content-Type: text/plain")
       body("${MESSAGE}") batch-lines(20) batch-timeout(300) timeout(10));
};
log { source(s_vpn); destination(d_receiver); };
''' % (source, SRV_IP, SECRETS['syslog']))
    config.chmod(0o600)
    check = sh('syslog-ng', '--syntax-only', '-f', str(config), check=False)
    assert check.returncode == 0, check.stderr
    daemon = Daemon(in_ns(CLI, 'syslog-ng', '-F', '--no-caps', '-f', str(config), '-R', str(base / 'persist'),
                          '-p', str(base / 'pid'), '-c', str(base / 'ctl')), base / 'syslog-ng.out')
    lab['processes'].append(daemon)
    daemon.running()
    now = time.gmtime()
    stamp = time.strftime('%Y-%m-%dT%H:%M:%S+00:00', now)
    panos = time.strftime('%Y/%m/%d %H:%M:%S', now)
    with open(source, 'a') as handle:
        handle.write('%s asa1 : %%ASA-4-722051: Group <sslvpn> User <ng-alice> IP <192.0.2.250> IPv4 Address '
                     '<10.10.20.11> IPv6 address <::> assigned to session\n' % stamp)
        handle.write('%s pa1 1,%s,123456789999,GLOBALPROTECT,0,2305,%s,vsys1,gateway-setup-ipsec,tunnel,,IPSec,'
                     'ROAM\\ng-bob,DE,LAPTOP-17,175.16.199.1,0.0.0.0,10.20.30.41,0.0.0.0,96c43d47-8bb5-4f78-8dfc-413a189a29e0,'
                     'SERIAL17,5.1.1,OS,"OS 10 Enterprise, 64-bit",1,,,,success,,0,,0,GPGateway,6894571632887761989,0x8000000000000000\n'
                     % (stamp, panos, panos))
        handle.write('%s asa1 : %%ASA-6-302013: Built inbound TCP connection 1 for outside:1.2.3.4/5 to inside:10.0.0.1/22\n' % stamp)
    receiver = lab['receiver']
    wait_for(lambda: sum(' vpn_user ng-' in line for line in receiver.spool_lines()) >= 2, 'syslog-ng to deliver')
    observations = {o['identity']['value']: o for o in receiver_observations(run_ansible, receiver)}
    alice, bob = observations['ng-alice'], observations['ng-bob']
    assert (alice['event'], alice['ip'], alice['source']['kind'], alice['authority']) == ('start', '10.10.20.11', 'receiver', 'log')
    assert (bob['event'], bob['ip']) == ('start', '10.20.30.41')
    assert bob['aliases']['machine'] == 'LAPTOP-17' and bob['aliases']['parser'] == 'globalprotect'
    assert SECRETS['syslog'] not in receiver.log_path.read_text()


def test_rsyslog_receives_udp_syslog_that_log_presence_reads(lab, run_ansible):
    base = lab['dir'] / 'rsyslog'
    base.mkdir()
    (base / 'work').mkdir()
    log = base / 'vpn.log'
    config = base / 'rsyslog.conf'
    config.write_text('''global(workDirectory="%s")
module(load="imudp")
input(type="imudp" address="%s" port="514")
*.* action(type="omfile" file="%s" template="RSYSLOG_FileFormat")
''' % (base / 'work', SRV_IP, log))
    check = sh(str(RSYSLOGD), '-N1', '-f', str(config), '-M', str(RSYSLOG_MODULES), check=False)
    assert check.returncode == 0, check.stderr
    daemon = Daemon(in_ns(SRV, str(RSYSLOGD), '-n', '-f', str(config), '-M', str(RSYSLOG_MODULES),
                          '-i', str(base / 'rsyslogd.pid')), base / 'rsyslogd.out')
    lab['processes'].append(daemon)
    daemon.running()
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
        sh(*in_ns(CLI, 'logger', '--udp', '--server', SRV_IP, '--port', '514', '--rfc3164', '-t', tag, message))
    wait_for(lambda: log.exists() and log.read_text().count('\n') >= 3, 'rsyslog to write the lines')
    second = module(run_ansible, 'log_presence', {'paths': [str(log)], 'state_file': str(state), 'max_session': 600})
    summary = [(o['event'], o['identity']['value'], o['ip'], o['authority']) for o in second['observations']]
    assert summary == [('start', 'udp-carol', '10.88.0.17', 'log'), ('start', 'udp-dave', '10.212.134.200', 'log'),
                       ('end', 'udp-carol', None, 'log')]
    carol = second['observations'][0]
    assert time.mktime(time.strptime(carol['until'], '%Y-%m-%dT%H:%M:%SZ')) - time.mktime(
        time.strptime(carol['time'], '%Y-%m-%dT%H:%M:%SZ')) == 600
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
        proc = sh(*in_ns(CLI, 'curl', '-sS', '-o', '-', '-w', '\n%{http_code}', '-H', 'Content-Type: application/json',
                         '--data-binary', json.dumps(body), url))
        answer, status = proc.stdout.rsplit('\n', 1)
        assert status == '200', proc.stdout
        assert json.loads(answer)['accepted'] == (1 if attempt == 0 else 0)
    receiver = lab['receiver']
    erin = [o for o in receiver_observations(run_ansible, receiver) if o['identity']['value'] == 'splunk-erin']
    assert len(erin) == 1
    assert (erin[0]['ip'], erin[0]['event'], erin[0]['aliases']['mac']) == ('10.8.0.77', 'seen', '02:77:00:00:0b:07')
    assert SECRETS['splunk'] not in receiver.log_path.read_text()
