# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: the vpn_hook role (real ansible-playbook, its configuration check a throw-away real
charon) makes its hook the updown script of a real strongSwan road-warrior child (charon 5.9 with
kernel-libipsec, certificate authentication with the session's openssl-made certificates) in a
network namespace; a real charon client connects and disconnects. The rs2 records are read back with
the collection's reader and the live table with its vici reader.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_strongswan_hook_e2e.py   (root)
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from netns import wait_until
from test_vpn_hook_e2e import Servers, deploy, presence_events, server_tree
from vpn_fixtures import HOSTILE_CNS, LAPTOP_CN
from vpn_lab import VpnLab

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists('/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so'),
                                 reason='needs charon with kernel-libipsec (libcharon-extra-plugins)')]

SWANCTL = 'etc/swanctl/swanctl.conf'
HOOK = '/usr/local/lib/roamscan/roamscan-strongswan-hook'


@pytest.fixture(scope='module')
def gateway(vpn_certificates, run_ansible, collections_dir):
    with server_tree('roamscan-strongswan-hook-', collections_dir) as tree, \
            VpnLab(tree.workdir / 'lab', vpn_certificates) as lab:
        (tree.root / 'etc/swanctl/conf.d').mkdir(parents=True)
        lab.write_strongswan_server_config(tree.root / 'etc/swanctl')
        deploy(run_ansible, tree.workdir, tree.root, {'strongswan': {
            'vpn_hook_server': 'strongswan', 'vpn_hook_strongswan_children': [{'connection': 'rw', 'child': 'net'}]}})
        # a tiny tmpfs, so a full spool can be tested on the running server (charon runs the hook as root)
        tree.mount_spool('size=64k,mode=0700')
        lab.start_strongswan(server_swanctl=tree.root / SWANCTL)
        yield Servers(lab, tree.root, tree.source_tables, tree.session_tables)


def connect(gateway, cert_name):
    connection, ip = gateway.lab.strongswan_cert_connect(cert_name)
    return connection, ip


def disconnect(gateway, connection):
    gateway.lab.swanctl('client', '--terminate', '--ike', connection, '--timeout', '10')


def holds(gateway, identity, ip):
    return gateway.holds('strongswan', gateway.lab.strongswan_vici, 'vpn_cert', identity, ip)


def test_role_made_the_hook_the_updown_script_of_the_child(gateway):
    root = gateway.root
    assert (root / SWANCTL).read_text().endswith('include %s/etc/swanctl/conf.d/roamscan-hook.conf\n' % root)
    snippet = (root / 'etc/swanctl/conf.d/roamscan-hook.conf').read_text()
    assert '  rw {\n    children {\n      net {\n        updown = %s%s\n' % (root, HOOK) in snippet


def test_connect_and_disconnect_are_start_and_end_records_and_the_vici_table_follows(gateway, run_ansible):
    connection, ip = connect(gateway, LAPTOP_CN)
    assert ip.startswith('10.91.0.')
    gateway.lab.prove_tunnel(ip, VpnLab.SERVER_IP)
    identity = 'CN=' + LAPTOP_CN   # the certificate subject the peer authenticated with
    start = gateway.wait_record('connect', source='strongswan', kind='connect', id_value=identity, ip=ip)
    assert (start.event, start.id_kind) == ('start', 'vpn_cert')
    assert holds(gateway, identity, ip) and not holds(gateway, 'CN=laptop-vpn-02', ip)
    # the module the controller runs on the gateway: the connect and the live session
    result = presence_events(run_ansible, gateway, source='strongswan', table_path=gateway.lab.strongswan_vici)
    assert [(o['event'], o['why'], o['ip']) for o in result['observations']
            if o['identity'] == {'kind': 'vpn_cert', 'value': identity}] == [('start', 'connect', ip)]
    assert [o['identity'] for o in result['table'] if o['ip'] == ip] == [{'kind': 'vpn_cert', 'value': identity}]
    disconnect(gateway, connection)
    end = gateway.wait_record('disconnect', source='strongswan', kind='disconnect', id_value=identity, ip=ip)
    assert end.event == 'end'
    assert not holds(gateway, identity, ip)


def test_hostile_certificate_names_are_recorded_safely_and_the_clients_connect(gateway):
    marker = gateway.lab.workdir / 'pwned'
    for cn in HOSTILE_CNS:
        connection, ip = connect(gateway, cn)
        record = gateway.wait_record(cn, source='strongswan', kind='connect', ip=ip)
        assert record.id_kind == 'vpn_cert'
        if cn == 'x' * 64:
            assert record.id_value == 'CN=' + cn
        else:
            # hex in the spool: the subject as charon prints it (control characters become '?')
            assert record.id_value.startswith('%')
            printed = bytes.fromhex(record.id_value[1:])
            assert printed.startswith(b'CN=') and len(printed) >= len(cn.encode()), printed
        # the vici reader encodes the identity the same way: the record is confirmed
        assert holds(gateway, record.id_value, ip), cn
        disconnect(gateway, connection)
        gateway.wait_record('disconnect', source='strongswan', kind='disconnect', ip=ip, id_value=record.id_value)
    assert not marker.exists() and not (gateway.root / 'pwned').exists() and not Path('pwned').exists()


def test_full_or_read_only_spool_never_keeps_a_client_out(gateway):
    spool = gateway.spool
    before = len(gateway.records())
    filler = spool / 'filler'
    identity = 'CN=' + LAPTOP_CN
    try:
        gateway.fill_spool(filler)
        connection, ip = connect(gateway, LAPTOP_CN)
        assert holds(gateway, identity, ip)
        disconnect(gateway, connection)
        wait_until(lambda: not holds(gateway, identity, ip), 10, what='the session to end')
        assert len(gateway.records()) == before
    finally:
        filler.unlink()
    # charon runs the hook as root, which permissions do not stop: a read-only mount does
    subprocess.run(['mount', '-o', 'remount,ro', str(spool)], check=True)
    try:
        connection, ip = connect(gateway, LAPTOP_CN)
        assert holds(gateway, identity, ip)
        disconnect(gateway, connection)
        assert len(gateway.records()) == before
    finally:
        subprocess.run(['mount', '-o', 'remount,rw', str(spool)], check=True)
