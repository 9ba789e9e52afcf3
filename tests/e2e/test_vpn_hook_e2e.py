# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: the vpn_hook role (real ansible-playbook) wires its hooks into a real OpenVPN 2.6
(twice: certificate identity on 1194, user identity on 1195) and a real ocserv in a network
namespace; real openvpn and openconnect clients connect and disconnect. The rs2 records are read
back with the collection's reader and the session tables with its table readers.

One set of servers serves the whole module (they start in about two seconds; the role run takes
longer). The spool is a tiny tmpfs, so a full spool can be tested on the running servers.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_vpn_hook_e2e.py   (root)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from netns import wait_until
from vpn_fixtures import HOSTILE_CNS, LAPTOP_CN
from vpn_lab import VpnLab, deploy_vpn_hook as deploy, run_command

pytestmark = [pytest.mark.root, pytest.mark.slow]

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
SPOOL = '/var/spool/roamscan'
OPENVPN_STATUS = '/run/openvpn-server/status-roamscan.log'
USERS_STATUS = '/run/openvpn-server/status-users.log'
OCSERV_USERS = {'alice': 'alice-pw', "o'brien;touch pwned": 'pw-2', '$(touch pwned)': 'pw-3',
                b'caf\xe9\xff': 'pw-5'}
HOSTILE_USERS = ['$(touch pwned)', 'b"`touch pwned`"', "c';touch pwned;'", 'x' * 300, b'\xff\xferaw', 'sp ace']


class Servers:
    """The module's servers: ``lab``, the path prefix ``root`` and helpers to read what they wrote
    with the collection's own readers (spool records, session tables)."""

    def __init__(self, lab, root, source_tables, session_tables):
        self.lab = lab
        self.root = root
        self.spool = root / SPOOL.lstrip('/')
        self.tables = source_tables
        self.session_tables = session_tables

    def records(self):
        """Every record in the spool (rotated segments and ``current``), in order."""
        from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import CorruptRecord, parse_spool_line
        files = sorted(self.spool.glob('seg.*'), key=lambda p: int(p.name.split('.')[1])) + [self.spool / 'current']
        records = []
        for line in b''.join(path.read_bytes() for path in files if path.exists()).split(b'\n'):
            if line:
                try:
                    records.append(parse_spool_line(line))
                except CorruptRecord as exc:
                    raise AssertionError('the hook wrote a corrupt record: %s' % exc) from None
        return records

    def wait_record(self, what, **match):
        def found():
            return [r for r in self.records() if all(getattr(r, k) == v for k, v in match.items())]
        try:
            return wait_until(found, 30, what='%s record %s' % (what, match))[-1]
        except AssertionError as exc:
            recent = [(r.source, r.kind, r.id_value[:20], r.ip) for r in self.records()[-12:]]
            raise AssertionError('%s; last records: %s' % (exc, recent)) from None

    def sessions(self, source, where):
        """The live table of ``source`` as the collection reads it (observations)."""
        return self.tables.read_source_table(source, str(where), time.time(), 'vpn-lab', run_command)

    def holds(self, source, where, identity_kind, identity_value, ip):
        return self.session_tables.holds(self.sessions(source, where), identity_kind, identity_value, ip)

    def disconnect(self, source, clients):
        """Stop ``clients`` and wait for their end records (OpenVPN closes a session 5 s after the
        client's exit notification), so the next test starts from a quiet spool."""
        for client in clients:
            client.disconnect()
        for client in clients:
            self.wait_record('disconnect', source=source, kind='disconnect', ip=client.assigned_ip)


def presence_events(run_ansible, servers, **options):
    """Run presence_events by ansible-playbook on the 'VPN server' (the spool's host)."""
    result_file = servers.lab.workdir / 'presence_events.json'
    playbook = servers.lab.workdir / 'collect.yml'
    playbook.write_text(json.dumps([{
        'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'roamscan.qualys.presence_events': dict(options, spool_dir=str(servers.spool)), 'register': 'presence'},
                  {'ansible.builtin.copy': {'content': '{{ presence | to_json }}', 'dest': str(result_file), 'mode': '0600'}}],
    }]))
    proc = run_ansible('ansible-playbook', '-i', 'localhost,', '-c', 'local', str(playbook))
    assert proc.returncode == 0, proc.stdout[-4000:]
    return json.loads(result_file.read_text())


@pytest.fixture(scope='module')
def servers(vpn_certificates, run_ansible, collections_dir):
    sys.path.insert(0, str(collections_dir))
    from ansible_collections.roamscan.qualys.plugins.module_utils import _session_tables, _source_tables
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-vpn-e2e-'))
    os.chmod(workdir, 0o755)
    root = workdir / 'root'
    spool = root / SPOOL.lstrip('/')
    mounted = False
    try:
        with VpnLab(workdir / 'lab', vpn_certificates) as lab:
            for directory in ('etc/openvpn/server', 'etc/ocserv', 'run/openvpn-server'):
                (root / directory).mkdir(parents=True)
            # both OpenVPN servers drop privileges: their hook runs as nobody
            drop = ('user nobody', 'group nogroup')
            (root / 'etc/openvpn/server/server.conf').write_text(lab.openvpn_config(extra=drop))
            (root / 'etc/openvpn/server/users.conf').write_text(
                lab.openvpn_config(port=1195, network='10.88.1', extra=drop))
            (root / 'etc/ocserv/ocserv.conf').write_text(lab.ocserv_config(OCSERV_USERS))
            deploy(run_ansible, workdir, root, {
                'openvpn-cert': {'vpn_hook_server': 'openvpn', 'vpn_hook_openvpn_status_interval': 1},
                'openvpn-users': {
                    'vpn_hook_server': 'openvpn', 'vpn_hook_identity': 'user', 'vpn_hook_script_dir': '/usr/local/lib/roamscan-users',
                    'vpn_hook_openvpn_config_file': '/etc/openvpn/server/users.conf',
                    'vpn_hook_openvpn_snippet_file': '/etc/openvpn/server/roamscan-users.conf',
                    'vpn_hook_openvpn_status_file': USERS_STATUS, 'vpn_hook_openvpn_status_interval': 1},
                # ocserv runs its hook as root, which writes any spool: share the OpenVPN hooks' owner
                'ocserv': {'vpn_hook_server': 'ocserv', 'vpn_hook_spool_owner': 'nobody'},
            })
            assert spool.stat().st_uid == 65534  # the OpenVPN configurations' "user nobody"
            # a tiny tmpfs, mounted before the servers start so they see it
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0700,uid=65534,gid=65534', 'roamscan-vpn-spool',
                            str(spool)], check=True)
            mounted = True
            lab.start_openvpn(root / 'etc/openvpn/server/server.conf')
            lab.start_openvpn(root / 'etc/openvpn/server/users.conf', name='openvpn-users')
            lab.start_ocserv(root / 'etc/ocserv/ocserv.conf')
            yield Servers(lab, root, _source_tables, _session_tables)
    finally:
        if mounted:
            subprocess.run(['umount', str(spool)], check=False)
        shutil.rmtree(workdir, ignore_errors=True)
        sys.path.remove(str(collections_dir))


def test_role_wired_the_hooks_into_both_servers(servers):
    root = servers.root
    assert (root / 'etc/openvpn/server/server.conf').read_text().endswith(
        'config %s/etc/openvpn/server/roamscan-hook.conf\n' % root)
    snippet = (root / 'etc/openvpn/server/roamscan-hook.conf').read_text()
    for line in ('script-security 2', 'client-connect %s/usr/local/lib/roamscan/roamscan-openvpn-hook' % root,
                 'status %s%s 1' % (root, OPENVPN_STATUS), 'status-version 3'):
        assert '\n%s\n' % line in snippet
    ocserv = (root / 'etc/ocserv/ocserv.conf').read_text()
    assert 'connect-script = %s/usr/local/lib/roamscan/roamscan-ocserv-hook\n' % root in ocserv
    assert 'use-occtl = true\n' in ocserv


def test_openvpn_connect_and_disconnect_are_start_and_end_records_and_the_status_table_follows(servers, run_ansible):
    lab = servers.lab
    witness = lab.openvpn_client('laptop-vpn-02', configure_tunnel=False, name='witness').wait_connected()
    laptop = lab.openvpn_client(LAPTOP_CN).wait_connected()
    ip = laptop.assigned_ip
    lab.prove_tunnel(ip, '10.88.0.1')
    start = servers.wait_record('connect', source='openvpn', kind='connect', id_value=LAPTOP_CN, ip=ip)
    assert (start.event, start.id_kind, start.aliases) == ('start', 'vpn_cert', {'platform': 'linux'})
    status = servers.root / OPENVPN_STATUS.lstrip('/')
    assert wait_until(lambda: servers.holds('openvpn', status, 'vpn_cert', LAPTOP_CN, ip), 5,
                      what='the session in the status file')
    assert not servers.holds('openvpn', status, 'vpn_cert', 'laptop-vpn-02', ip)
    # the module the controller runs on the VPN server: the connect and the live session
    result = presence_events(run_ansible, servers, source='openvpn', table_path=str(status))
    assert [(o['event'], o['why'], o['ip']) for o in result['observations']
            if o['identity'] == {'kind': 'vpn_cert', 'value': LAPTOP_CN}] == [('start', 'connect', ip)]
    assert {'kind': 'vpn_cert', 'value': LAPTOP_CN} in [o['identity'] for o in result['table'] if o['ip'] == ip]
    assert all(o['authority'] == 'table' and o['source']['kind'] == 'openvpn' for o in result['observations'])
    laptop.disconnect()
    end = servers.wait_record('disconnect', source='openvpn', kind='disconnect', id_value=LAPTOP_CN, ip=ip)
    assert end.event == 'end'
    # OpenVPN rewrites the file only while it has work: the witness's keepalive gives it some
    wait_until(lambda: not servers.holds('openvpn', status, 'vpn_cert', LAPTOP_CN, ip), 5,
               what='the session to leave the status file')
    servers.disconnect('openvpn', [witness])


def test_hostile_certificate_names_are_recorded_safely_and_the_clients_connect(servers):
    lab = servers.lab
    marker = lab.workdir / 'pwned'
    clients = [lab.openvpn_client(cn, configure_tunnel=False) for cn in HOSTILE_CNS]
    for client in clients:
        client.wait_connected()
    status = servers.root / OPENVPN_STATUS.lstrip('/')
    for cn, client in zip(HOSTILE_CNS, clients):
        record = servers.wait_record(cn, source='openvpn', kind='connect', ip=client.assigned_ip)
        assert record.id_kind == 'vpn_cert'
        if cn == 'x' * 64:
            assert record.id_value == cn
        else:
            # hex in the spool: the name as OpenVPN passed it (it remaps some characters to '_')
            assert record.id_value.startswith('%')
            passed = bytes.fromhex(record.id_value[1:])
            assert len(passed) == len(cn) and all(a in (b, ord('_')) for a, b in zip(passed, cn.encode())), passed
        # the table reader encodes the name the same way: the record is confirmed
        wait_until(lambda: servers.holds('openvpn', status, 'vpn_cert', record.id_value, client.assigned_ip), 5, what='%r in the status file' % cn)
    servers.disconnect('openvpn', clients)
    assert not marker.exists() and not (servers.root / 'pwned').exists()


def test_openvpn_user_identity_with_hostile_user_names(servers):
    lab = servers.lab
    marker = lab.workdir / 'pwned'
    clients = [lab.openvpn_client('laptop-vpn-02', username=name, configure_tunnel=False,
                                  port=1195, name='user-%d' % i)
               for i, name in enumerate(['alice'] + HOSTILE_USERS)]
    for client in clients:
        client.wait_connected()
    status = servers.root / USERS_STATUS.lstrip('/')

    def all_users():
        sessions = servers.sessions('openvpn', status)
        return sessions if len([s for s in sessions if s['identity']['kind'] == 'vpn_user']) == len(clients) else None

    sessions = wait_until(all_users, 5, what='all user sessions in the status file')
    for name, client in zip(['alice'] + HOSTILE_USERS, clients):
        record = servers.wait_record(repr(name), source='openvpn', kind='connect', ip=client.assigned_ip)
        assert record.id_kind == 'vpn_user'
        assert record.ip.startswith('10.88.1.')
        assert servers.session_tables.holds(sessions, 'vpn_user', record.id_value, record.ip), (name, record)
        if name == 'alice':
            assert record.id_value == 'alice'
        else:
            assert record.id_value.startswith('%') and len(record.id_value) <= 1 + 2 * 128
    servers.disconnect('openvpn', clients)
    assert not marker.exists()


def test_ocserv_connect_and_disconnect_are_start_and_end_records_and_occtl_follows(servers):
    lab = servers.lab
    client = lab.openconnect('alice', 'alice-pw', hostname='laptop-7').wait_connected()
    ip = client.assigned_ip
    lab.prove_tunnel(ip, '10.89.0.1')
    start = servers.wait_record('connect', source='ocserv', kind='connect', id_value='alice', ip=ip)
    assert (start.event, start.id_kind, start.hostname) == ('start', 'vpn_user', 'laptop-7')
    assert servers.holds('ocserv', lab.occtl_socket, 'vpn_user', 'alice', ip)
    client.disconnect()
    end = servers.wait_record('disconnect', source='ocserv', kind='disconnect', id_value='alice', ip=ip)
    assert end.event == 'end'
    wait_until(lambda: not servers.holds('ocserv', lab.occtl_socket, 'vpn_user', 'alice', ip), 10,
               what='alice to leave occtl')


def test_ocserv_hostile_user_and_host_names_are_recorded_safely(servers):
    lab = servers.lab
    marker = lab.workdir / 'pwned'
    hostile = [(name, password) for name, password in OCSERV_USERS.items() if name != 'alice']
    clients = [lab.openconnect(name, password, hostname='h;$(touch pwned)`id`') for name, password in hostile]
    for client in clients:
        client.wait_connected()
    sessions = servers.sessions('ocserv', lab.occtl_socket)
    for (name, _password), client in zip(hostile, clients):
        raw = os.fsencode(name)
        record = servers.wait_record(repr(name), source='ocserv', kind='connect', ip=client.assigned_ip)
        assert record.id_value == '%' + raw[:128].hex()
        assert record.hostname is None  # ocserv passes the client's name: hex in the spool, never plain
        # occtl mangles bytes above 0x7f: such a user is never confirmed, the others are
        assert servers.session_tables.holds(sessions, 'vpn_user', record.id_value, record.ip) == raw.isascii()
    servers.disconnect('ocserv', clients)
    assert not marker.exists()


def test_full_or_unwritable_spool_never_keeps_a_client_out(servers):
    lab = servers.lab
    status = servers.root / OPENVPN_STATUS.lstrip('/')
    filler = servers.spool / 'filler'
    # keeps the idle OpenVPN server rewriting its status file, so session ends show there
    witness = lab.openvpn_client('laptop-vpn-02', configure_tunnel=False, name='full-witness').wait_connected()
    servers.wait_record('connect', source='openvpn', kind='connect', ip=witness.assigned_ip)
    before = len(servers.records())
    try:
        # every free page, then the slack in the last page of the spool file (empty lines, which
        # readers skip): now an append fails with ENOSPC
        for path, chunk in ((filler, b'\0' * 4096), (servers.spool / 'current', b'\n')):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                while os.write(descriptor, chunk):
                    pass
            except OSError:  # ENOSPC: full
                pass
            finally:
                os.close(descriptor)
        openvpn = lab.openvpn_client(LAPTOP_CN, configure_tunnel=False, name='full-openvpn').wait_connected()
        ocserv = lab.openconnect('alice', 'alice-pw', name='full-openconnect').wait_connected()
        # both sessions are live although their hooks could not write
        wait_until(lambda: servers.holds('openvpn', status, 'vpn_cert', LAPTOP_CN, openvpn.assigned_ip), 5, what='the OpenVPN session')
        assert servers.holds('ocserv', lab.occtl_socket, 'vpn_user', 'alice', ocserv.assigned_ip)
        openvpn.disconnect()
        ocserv.disconnect()
        # the disconnect hooks have run once the sessions left the tables
        wait_until(lambda: not servers.holds('openvpn', status, 'vpn_cert', LAPTOP_CN, openvpn.assigned_ip), 10, what='the OpenVPN session to end')
        wait_until(lambda: not servers.sessions('ocserv', lab.occtl_socket), 10, what='the ocserv session to end')
        assert len(servers.records()) == before
    finally:
        filler.unlink()
    # the OpenVPN hook runs as nobody: now it can neither append nor create the spool file
    os.chmod(servers.spool / 'current', 0o400)
    os.chmod(servers.spool, 0o500)
    try:
        client = lab.openvpn_client(LAPTOP_CN, configure_tunnel=False, name='readonly-openvpn').wait_connected()
        wait_until(lambda: servers.holds('openvpn', status, 'vpn_cert', LAPTOP_CN, client.assigned_ip), 5, what='the OpenVPN session')
        assert len(servers.records()) == before
    finally:
        os.chmod(servers.spool, 0o700)
        os.chmod(servers.spool / 'current', 0o600)
    servers.disconnect('openvpn', [client, witness])  # the spool is writable again: the ends are recorded
