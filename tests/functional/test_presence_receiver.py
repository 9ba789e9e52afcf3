# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real presence receiver on loopback against real HTTP clients: auth, replay, limits, crash."""
from __future__ import annotations

import json
import shutil
import signal
import socket
import ssl
import subprocess
import threading
import time

import pytest

from log_lab import syslog_ng_command
from receiver_lab import SCRIPT, SECRETS, ReceiverLab
from vpn_lab import VpnCertificates

# Splunk's documented webhook alert body (Splunk Cloud/Enterprise alerting manual, "Use a webhook
# alert action"): only the first result row, under "result".
SPLUNK_DOC_EXAMPLE = {
    'result': {'sourcetype': 'mongod', 'count': '8'},
    'sid': 'scheduler_admin_search_W2_at_14232356_132',
    'results_link': 'http://web.example.local:8000/app/search/@go?sid=scheduler_admin_search_W2_at_14232356_132',
    'search_name': None,
    'owner': 'admin',
    'app': 'search',
}


def presence(value, ip='10.8.0.5', event='start', event_id=None, **extra):
    item = {'event': event, 'identity': {'kind': 'vpn_user', 'value': value}, 'ip': ip,
            'time': int(time.time()), 'event_id': event_id or value}
    item.update(extra)
    return json.dumps(item)


@pytest.fixture(scope='module')
def lab(tmp_path_factory):
    receiver = ReceiverLab(tmp_path_factory.mktemp('receiver')).start()
    yield receiver
    receiver.stop()
    log = receiver.log_path.read_text()
    for secret in SECRETS.values():
        assert secret not in log, 'a secret reached the receiver log'


def written(lab, value):
    return [line for line in lab.spool_lines() if ' vpn_user %s ' % value in line]


def test_missing_and_wrong_credentials_write_nothing(lab):
    body = presence('nocred')
    assert lab.post('/v1/presence/ndjson', body)[0] == 401
    assert lab.post('/v1/presence/ndjson', body, {'Authorization': 'Bearer ' + SECRETS['nac']})[0] == 403
    assert lab.post('/v1/presence/ndjson/' + SECRETS['ndjson'], body, lab.bearer('ndjson'))[0] == 403
    assert lab.post('/v1/presence/splunk', body)[0] == 401
    assert lab.post('/v1/presence/splunk/' + SECRETS['splunk'][:-1] + 'X', body)[0] == 403
    assert lab.post('/v1/presence/nosuch', body, lab.bearer('ndjson'))[0] == 404
    assert written(lab, 'nocred') == []


def test_hmac_signature_and_timestamp(lab):
    body = presence('signed-user').encode()
    assert lab.post('/v1/presence/signed', body)[0] == 401
    assert lab.post('/v1/presence/signed', body, lab.signed(body, secret='not-the-secret-at-all'))[0] == 403
    assert lab.post('/v1/presence/signed', body, lab.signed(body, stamp=int(time.time()) - 3600))[0] == 403
    tampered = body.replace(b'10.8.0.5', b'10.8.0.9')
    assert lab.post('/v1/presence/signed', tampered, lab.signed(body))[0] == 403
    assert written(lab, 'signed-user') == []
    assert lab.post('/v1/presence/signed', body, lab.signed(body)) == (200, {'accepted': 1, 'duplicates': 0, 'skipped': {}})
    assert len(written(lab, 'signed-user')) == 1


def test_replayed_event_id_is_written_once(lab):
    body = presence('replayed', event_id='evt-42')
    first = lab.post('/v1/presence/ndjson', body, lab.bearer('ndjson'))
    again = lab.post('/v1/presence/ndjson', body, lab.bearer('ndjson'))
    assert first == (200, {'accepted': 1, 'duplicates': 0, 'skipped': {}})
    assert again == (200, {'accepted': 0, 'duplicates': 1, 'skipped': {}})
    assert len(written(lab, 'replayed')) == 1


def test_oversized_body_is_413(lab):
    body = '\n'.join(presence('big%d' % n) for n in range(2000))
    assert len(body) > 65536
    assert lab.post('/v1/presence/ndjson', body, lab.bearer('ndjson'))[0] == 413
    assert written(lab, 'big1') == []


def test_malformed_json_and_lines(lab):
    status, answer = lab.post('/v1/presence/splunk/' + SECRETS['splunk'], '{"result": ', {})
    assert (status, answer['error']) == (400, 'bad_json')
    mixed = '\n'.join([presence('mixed-good'), '{not json', json.dumps({'event': 'start', 'ip': '10.1.1.1'}),
                       presence('mixed-badip', ip='999.1.1.1'), presence('mixed-shell;rm', ip='10.8.0.7')])
    status, answer = lab.post('/v1/presence/ndjson', mixed, lab.bearer('ndjson'))
    assert status == 200
    assert answer['accepted'] == 2
    assert answer['skipped'] == {'bad_json': 1, 'bad_identity': 1, 'bad_ip': 1}
    hostile = [line for line in lab.spool_lines() if ' 10.8.0.7 ' in line]
    assert len(hostile) == 1 and ';' not in hostile[0] and ' vpn_user %' in hostile[0]
    assert lab.post('/v1/presence/ndjson', '{broken\n[1,2]\n', lab.bearer('ndjson'))[0] == 400


def test_splunk_payload_through_the_field_map(lab):
    assert lab.post('/v1/presence/splunk/' + SECRETS['splunk'], json.dumps(SPLUNK_DOC_EXAMPLE))[0] == 400
    body = dict(SPLUNK_DOC_EXAMPLE, result={'user': 'splunk-alice', 'src_ip': '10.8.0.21', 'src_mac': '02-AA-00-00-00-01',
                                            '_time': str(int(time.time()))})
    assert lab.post('/v1/presence/splunk/' + SECRETS['splunk'], json.dumps(body))[0] == 200
    assert lab.post('/v1/presence/splunk/' + SECRETS['splunk'], json.dumps(body)) == (
        200, {'accepted': 0, 'duplicates': 1, 'skipped': {}})
    (line,) = written(lab, 'splunk-alice')
    assert ' 10.8.0.21 ' in line and 'mac=02:aa:00:00:00:01' in line.replace('02-AA-00-00-00-01', '02:aa:00:00:00:01')


def test_a_posted_session_holds_its_ip_for_the_endpoints_max_session_until_its_end(lab):
    started = int(time.time()) - 30
    for action, moment in (('start', started), ('end', started + 10)):
        body = dict(SPLUNK_DOC_EXAMPLE, sid='rt_md_%s' % action,
                    result={'user': 'splunk-ivan', 'src_ip': '10.8.0.31', 'action': action, '_time': str(moment)})
        assert lab.post('/v1/presence/splunk_sessions/' + SECRETS['splunk_sessions'], json.dumps(body))[0] == 200
    ivan = [(record.kind, record.time, record.lease_expires) for record in lab.read_spool() if record.id_value == 'splunk-ivan']
    assert ivan == [('connect', iso(started), iso(started + 7200)), ('disconnect', iso(started + 10), None)]


def asa_line(moment, message):
    return '%s asa1 : %s' % (time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(moment)), message)


def test_a_disconnect_that_names_no_ip_is_spooled_as_an_end_without_one_and_a_start_without_one_is_refused(lab):
    started = int(time.time()) - 60
    lines = [asa_line(started, '%ASA-6-113039: Group <vpn> User <fn-carol> IP <198.51.100.7> AnyConnect parent session started.'),
             asa_line(started, '%ASA-6-722051: Group <vpn> User <fn-carol> IP <198.51.100.7> IPv4 Address <10.88.0.7> '
                               'IPv6 address <::> assigned to session'),
             asa_line(started + 20, '%ASA-4-113019: Group = vpn, Username = fn-carol, IP = 198.51.100.7, Session disconnected. '
                                    'Session Type: SSL, Duration: 0h:00m:20s, Bytes xmt: 1, Bytes rcv: 2, Reason: User Requested'),
             asa_line(started + 21, '%ASA-4-113019: Group = vpn, Username = CORP\\fn bad;$(id), IP = 198.51.100.8, '
                                    'Session disconnected. Session Type: SSL, Duration: 0h:00m:01s, Reason: User Requested')]
    status, answer = lab.post('/v1/presence/syslog', '\n'.join(lines) + '\n', lab.bearer('syslog'))
    assert (status, answer) == (200, {'accepted': 3, 'duplicates': 0, 'skipped': {'no_tunnel_ip': 1}})
    ndjson = '\n'.join([presence('fn-dave', ip=None, event='end', event_id='fn-dave-end'),
                        presence('fn-erin', ip=None, event='start'), presence('fn-erin', ip='', event='seen')])
    status, answer = lab.post('/v1/presence/ndjson', ndjson, lab.bearer('ndjson'))
    assert (status, answer) == (200, {'accepted': 1, 'duplicates': 0, 'skipped': {'bad_ip': 2}})
    assert lab.post('/v1/presence/ndjson', presence('fn-erin', ip=None, event='seen'), lab.bearer('ndjson')) == (
        400, {'error': 'no_presence', 'accepted': 0, 'duplicates': 0, 'skipped': {'bad_ip': 1}})
    records = {(record.id_value, record.kind): record for record in lab.read_spool()
               if record.id_value.startswith(('fn-', '%')) and record.source == 'receiver'}
    connect, end = records[('fn-carol', 'connect')], records[('fn-carol', 'disconnect')]
    assert (connect.ip, connect.time, connect.lease_expires) == ('10.88.0.7', iso(started), iso(started + 43200))   # the default max_session
    assert (end.event, end.ip, end.time, end.lease_expires, end.aliases['parser']) == ('end', None, iso(started + 20), None, 'cisco_asa')
    assert records[('fn-dave', 'disconnect')].ip is None and not [key for key in records if key[0] == 'fn-erin']
    hostile = records[('%' + 'fn bad;$(id)'.encode().hex(), 'disconnect')]   # escaped once, as log_presence does
    assert (hostile.event, hostile.ip) == ('end', None)
    assert not [line for line in lab.spool_lines() if ';' in line or '$(' in line]


def test_check_refuses_a_max_session_that_is_no_whole_number_of_seconds(tmp_path):
    for value in (0, 1.5, '3600', True):
        lab = ReceiverLab(tmp_path / str(value))
        config = json.loads(lab.config_path.read_text())
        config['endpoints']['ndjson']['max_session'] = value
        lab.config_path.write_text(json.dumps(config))
        proc = subprocess.run([lab.python, str(SCRIPT), '--check', str(lab.config_path)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 1 and 'endpoint ndjson: max_session' in proc.stderr, proc.stderr


def iso(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


def test_nac_session(lab):
    session = {'macAddress': '02:77:00:00:0A:01', 'ipAddresses': ['10.9.0.4', 'fe80::1'], 'userName': 'carol',
               'state': 'AUTHENTICATED',
               'timestamp': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(time.time() - 60))}
    status, answer = lab.post('/v1/presence/nac', json.dumps(session), lab.bearer('nac'))
    assert status == 200 and answer['accepted'] == 1 and answer['skipped'] == {'bad_ip': 1}
    (line,) = [line for line in lab.spool_lines() if ' mac 02:77:00:00:0a:01 10.9.0.4 ' in line]
    assert 'user=carol' in line


def test_flood_is_limited_per_endpoint(lab):
    statuses = [lab.post('/v1/presence/flood', presence('flood%d' % n), lab.bearer('flood'))[0] for n in range(8)]
    assert statuses.count(429) >= 4 and statuses[0] == 200
    assert lab.post('/v1/presence/ndjson', presence('during-flood'), lab.bearer('ndjson'))[0] == 200


def test_one_byte_per_second_client_is_dropped(lab):
    request = ('POST /v1/presence/ndjson HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n'
               'Content-Length: 100\r\n\r\n' % SECRETS['ndjson']).encode()
    slow = socket.create_connection((lab.address, lab.port))
    started = time.monotonic()
    dropped = None
    try:
        for byte in request + b'x' * 100:
            # others are served meanwhile
            if time.monotonic() - started > 1 and dropped is None:
                assert lab.post('/v1/presence/ndjson', presence('beside-slow'), lab.bearer('ndjson'))[0] == 200
            try:
                slow.send(bytes([byte]))
                if slow.recv(1, socket.MSG_DONTWAIT) == b'':
                    dropped = time.monotonic() - started
                    break
            except BlockingIOError:
                pass
            except OSError:
                dropped = time.monotonic() - started
                break
            time.sleep(1)
            if time.monotonic() - started > 15:
                break
    finally:
        slow.close()
    assert dropped is not None and dropped < 10  # request_timeout is 3 s


def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path):
    lab = ReceiverLab(tmp_path).start()
    acknowledged, sent, stop = [], [], threading.Event()

    def sender():
        for n in range(100000):
            if stop.is_set():
                return
            sent.append(n)
            try:
                status, _answer = lab.post('/v1/presence/ndjson', presence('crash%05d' % n), lab.bearer('ndjson'), timeout=2)
            except OSError:
                return
            if status == 200:
                acknowledged.append('crash%05d' % n)

    thread = threading.Thread(target=sender)
    thread.start()
    time.sleep(1.5)
    lab.stop(signal.SIGKILL)
    stop.set()
    thread.join()
    assert len(acknowledged) > 5
    lab.start()
    try:
        # the client retries everything it sent, acknowledged or not (a 429, or an answer the kill cut off,
        # acknowledged nothing, yet the event may be in the spool)
        last = sent[-1] + 1
        for first in range(0, last, 200):
            batch = '\n'.join(presence('crash%05d' % n) for n in range(first, min(first + 200, last)))
            while True:
                status, _answer = lab.post('/v1/presence/ndjson', batch, lab.bearer('ndjson'))
                if status != 429:
                    break
                time.sleep(0.5)  # Retry-After
            assert status == 200
        values = [line.split(' ')[7] for line in lab.spool_lines() if ' vpn_user crash' in line]
        assert set(acknowledged) <= set(values)
        assert set(values) == {'crash%05d' % n for n in range(last)}
        assert len(values) == len(set(values)) == last
    finally:
        lab.stop()


def test_https_with_the_configured_certificate(tmp_path):
    cert, key = tmp_path / 'cert.pem', tmp_path / 'key.pem'
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=localhost',
                    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', str(key), '-out', str(cert)],
                   check=True, capture_output=True)
    lab = ReceiverLab(tmp_path / 'receiver', tls=(cert, key)).start()
    try:
        assert lab.post('/v1/presence/ndjson', presence('tls-user'), lab.bearer('ndjson'))[0] == 200
        with socket.create_connection((lab.address, lab.port), timeout=5) as plain:
            plain.sendall(b'POST /v1/presence/ndjson HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}')
            assert not plain.recv(100).startswith(b'HTTP/')  # no plain-text answer on the TLS port
        with pytest.raises(ssl.SSLError):
            unverified = ssl.create_default_context()
            with socket.create_connection((lab.address, lab.port), timeout=5) as raw:
                unverified.wrap_socket(raw, server_hostname='127.0.0.1')
        assert len(written(lab, 'tls-user')) == 1
    finally:
        lab.stop()


@pytest.fixture(scope='module')
def client_pki(tmp_path_factory):
    """The collectors' CA with a client certificate, a server certificate for 127.0.0.1, and a second CA whose
    client certificate the receiver must refuse (real openssl, made once for this module)."""
    base = tmp_path_factory.mktemp('mtls')
    return {'trusted': VpnCertificates(base / 'trusted', '127.0.0.1', ['collector-1']),
            'other': VpnCertificates(base / 'other', '127.0.0.1', ['collector-1'])}


@pytest.fixture(scope='module')
def mtls_lab(tmp_path_factory, client_pki):
    trusted = client_pki['trusted']
    receiver = ReceiverLab(tmp_path_factory.mktemp('receiver-mtls'), tls=(trusted.server_cert, trusted.server_key),
                           tls_client_ca=trusted.ca).start()
    yield receiver
    receiver.stop()


def curl_post(lab, ca, body, headers=(), client=None):
    """``(curl exit code, HTTP status or None)`` of one POST with the real curl."""
    argv = ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '10', '--cacert', str(ca),
            '--data-binary', body, '-H', 'Content-Type: application/json']
    for header in headers:
        argv += ['-H', header]
    if client is not None:
        argv += ['--cert', str(client[0]), '--key', str(client[1])]
    proc = subprocess.run(argv + ['https://127.0.0.1:%d/v1/presence/ndjson' % lab.port], capture_output=True, text=True,
                          timeout=30, check=False)
    status = int(proc.stdout) if proc.stdout.strip().isdigit() and proc.stdout.strip() != '000' else None
    return proc.returncode, status


def test_mutual_tls_refuses_clients_without_or_with_a_foreign_certificate_before_reading_them(mtls_lab, client_pki):
    trusted, other = client_pki['trusted'], client_pki['other']
    bearer = 'Authorization: Bearer ' + SECRETS['ndjson']
    assert curl_post(mtls_lab, trusted.ca, presence('mtls-none'), [bearer])[1] is None
    assert curl_post(mtls_lab, trusted.ca, presence('mtls-foreign'), [bearer], other.client('collector-1'))[1] is None
    # the certificate is a second factor: the endpoint's own credential is still required
    assert curl_post(mtls_lab, trusted.ca, presence('mtls-notoken'), (), trusted.client('collector-1')) == (0, 401)
    assert curl_post(mtls_lab, trusted.ca, presence('mtls-ok'), [bearer], trusted.client('collector-1')) == (0, 200)
    assert [len(written(mtls_lab, name)) for name in ('mtls-none', 'mtls-foreign', 'mtls-notoken', 'mtls-ok')] == [0, 0, 0, 1]
    assert mtls_lab.log_path.read_text().count('TLS handshake refused') >= 2
    assert mtls_lab.process.poll() is None   # refused handshakes never stop the receiver


def test_syslog_ng_with_a_client_certificate_delivers_over_mutual_tls(mtls_lab, client_pki, tmp_path):
    if shutil.which('syslog-ng') is None:
        pytest.fail('syslog-ng missing: run scripts/install-system-deps')
    trusted = client_pki['trusted']
    cert, key = trusted.client('collector-1')
    source = tmp_path / 'vpn-in.log'
    command = syslog_ng_command(tmp_path / 'syslog-ng', source, 'https://127.0.0.1:%d/v1/presence/ndjson' % mtls_lab.port,
                                SECRETS['ndjson'], content_type='application/json', tls=(trusted.ca, cert, key))
    syslog_ng = subprocess.Popen(command,
                                 stdout=open(tmp_path / 'syslog-ng.out', 'wb'), stderr=subprocess.STDOUT)
    try:
        time.sleep(1)
        assert syslog_ng.poll() is None, (tmp_path / 'syslog-ng.out').read_text()[-2000:]
        with open(source, 'a') as handle:
            handle.write(presence('mtls-syslog-ng') + '\n')
        deadline = time.monotonic() + 20
        while not written(mtls_lab, 'mtls-syslog-ng') and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(written(mtls_lab, 'mtls-syslog-ng')) == 1
    finally:
        syslog_ng.terminate()
        syslog_ng.wait(timeout=10)


def test_check_refuses_a_client_ca_that_cannot_be_loaded_or_has_no_tls(tmp_path, client_pki):
    trusted = client_pki['trusted']
    bad_ca = tmp_path / 'not-a-ca.pem'
    bad_ca.write_text('not a certificate\n')
    for name, tls, client_ca, message in (('bad-ca', (trusted.server_cert, trusted.server_key), bad_ca, 'TLS files'),
                                          ('no-tls', None, trusted.ca, 'tls_client_ca (client certificates) needs tls_cert')):
        lab = ReceiverLab(tmp_path / name, tls=tls, tls_client_ca=client_ca)
        proc = subprocess.run([lab.python, str(SCRIPT), '--check', str(lab.config_path)], capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 1 and message in proc.stderr, proc.stderr
