# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The VPN hooks as OpenVPN 2.6, ocserv and strongSwan's charon call them (the environment each server really sets,
seen in tests/e2e/test_vpn_hook_e2e.py), parsed back with the collection's rs2 reader. No root
needed: the hooks are plain POSIX sh scripts."""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess

import pytest

from hook import render_vpn_hook

OPENVPN_CONNECT = {'script_type': 'client-connect', 'common_name': 'laptop-vpn-01', 'ifconfig_pool_remote_ip': '10.88.0.2',
                   'ifconfig_pool_netmask': '255.255.255.0', 'trusted_ip': '10.87.0.2', 'IV_PLAT': 'linux',
                   'IV_VER': '2.6.14', 'time_unix': '1796116413'}
OCSERV_CONNECT = {'REASON': 'connect', 'USERNAME': 'alice', 'GROUPNAME': '', 'HOSTNAME': 'laptop-7', 'DEVICE': 'vpns0',
                  'IP_REAL': '10.87.0.2', 'IP_REAL_LOCAL': '10.87.0.1', 'IP_REMOTE': '10.89.0.50', 'ID': '2913',
                  'DEVICE_PLATFORM': 'linux', 'DEVICE_TYPE': ''}
# what charon 5.9's updown plugin passes for a road-warrior child (tests/e2e/test_strongswan_tunnel_e2e.py)
STRONGSWAN_UP = {'PLUTO_VERSION': '1.1', 'PLUTO_VERB': 'up-client', 'PLUTO_CONNECTION': 'net', 'PLUTO_INTERFACE': 'eth0',
                 'PLUTO_REQID': '1', 'PLUTO_UNIQUEID': '1', 'PLUTO_ME': '10.87.0.1', 'PLUTO_MY_ID': 'CN=roamscan-test-vpn-server',
                 'PLUTO_MY_CLIENT': '0.0.0.0/0', 'PLUTO_PEER': '10.87.0.2', 'PLUTO_PEER_ID': 'CN=laptop-ss-01',
                 'PLUTO_PEER_CLIENT': '10.91.0.10/32', 'PLUTO_PEER_SOURCEIP': '10.91.0.10', 'PLUTO_PEER_SOURCEIP4_1': '10.91.0.10'}
HOSTILE = ['$(touch {marker})', "a';touch {marker};'", 'b"`touch {marker}`"', 'line\nrs2 forged . ;touch {marker}',
           'x' * 300, 'sp ace', '-n', '%s%n%x', 'ünïcode', '\udcff\udcferaw', 'a,b=c', '\\', '*', '..', '@lead']


@pytest.fixture
def hooks(tmp_path, qualys_collection_import):
    from ansible_collections.roamscan.qualys.plugins.module_utils import _spool_record
    spool = tmp_path / 'spool'
    spool.mkdir()
    marker = tmp_path / 'pwned'

    def run(server, env, identity='cert', spool_dir=spool):
        script = render_vpn_hook(server, tmp_path / ('%s-%s-hook' % (server, identity)), spool_dir, identity)
        raw_env = {k.encode(): os.fsencode(v) for k, v in env.items()}
        proc = subprocess.run([str(script)], env=raw_env, capture_output=True, timeout=10, check=False,
                              cwd=tmp_path)
        assert proc.returncode == 0 and proc.stdout == b'', proc
        return proc

    def records():
        path = spool / 'current'
        lines = path.read_bytes().split(b'\n') if path.exists() else []
        return [_spool_record.parse_spool_line(line) for line in lines if line]

    run.records = records
    run.marker = marker
    run.spool = spool
    run.tmp = tmp_path
    run.module = _spool_record
    return run


def fields(record):
    return (record.source, record.kind, record.event, record.id_kind, record.id_value, record.ip, record.hostname,
            record.aliases)


def test_openvpn_connect_and_disconnect_by_certificate_name(hooks):
    hooks('openvpn', OPENVPN_CONNECT)
    hooks('openvpn', dict(OPENVPN_CONNECT, script_type='client-disconnect', time_duration='8', IV_HWADDR='02:77:00:00:0a:01'))
    assert [fields(r) for r in hooks.records()] == [
        ('openvpn', 'connect', 'start', 'vpn_cert', 'laptop-vpn-01', '10.88.0.2', None, {'platform': 'linux'}),
        ('openvpn', 'disconnect', 'end', 'vpn_cert', 'laptop-vpn-01', '10.88.0.2', None,
         {'hwaddr': '02:77:00:00:0a:01', 'platform': 'linux'}),
    ]
    assert all(r.time is not None for r in hooks.records())


def test_openvpn_identity_user_records_the_auth_user_name(hooks):
    hooks('openvpn', dict(OPENVPN_CONNECT, username='alice@corp'), identity='user')
    hooks('openvpn', OPENVPN_CONNECT, identity='user')  # no auth-user-pass: no user, no record
    assert [(r.id_kind, r.id_value) for r in hooks.records()] == [('vpn_user', 'alice@corp')]


@pytest.mark.parametrize('env', [
    dict(OPENVPN_CONNECT, script_type='learn-address'),
    dict(OPENVPN_CONNECT, script_type='up'),
    {k: v for k, v in OPENVPN_CONNECT.items() if k != 'ifconfig_pool_remote_ip'},
    dict(OPENVPN_CONNECT, ifconfig_pool_remote_ip='10.88.0.256'),
    dict(OPENVPN_CONNECT, ifconfig_pool_remote_ip='010.88.0.2'),
    dict(OPENVPN_CONNECT, ifconfig_pool_remote_ip='10.88.0.2;touch {marker}'),
    dict(OPENVPN_CONNECT, common_name=''),
    {},
])
def test_openvpn_calls_without_a_session_to_record_write_nothing(hooks, env):
    hooks('openvpn', {k: v.format(marker=hooks.marker) for k, v in env.items()})
    assert hooks.records() == [] and not hooks.marker.exists()


def test_ocserv_connect_disconnect_and_client_reported_extras(hooks):
    hooks('ocserv', OCSERV_CONNECT, identity='user')
    hooks('ocserv', dict(OCSERV_CONNECT, REASON='disconnect', HOSTNAME='', DEVICE_PLATFORM='', DEVICE_TYPE='mobile'),
          identity='user')
    hooks('ocserv', dict(OCSERV_CONNECT, REASON='host-update'), identity='user')
    hooks('ocserv', dict(OCSERV_CONNECT, REASON='disconnect', IP_REMOTE=''), identity='user')
    assert [fields(r) for r in hooks.records()] == [
        ('ocserv', 'connect', 'start', 'vpn_user', 'alice', '10.89.0.50', 'laptop-7', {'platform': 'linux'}),
        ('ocserv', 'disconnect', 'end', 'vpn_user', 'alice', '10.89.0.50', None, {'device_type': 'mobile'}),
    ]


def test_strongswan_up_and_down_by_peer_identity_or_eap_identity(hooks):
    hooks('strongswan', STRONGSWAN_UP)
    hooks('strongswan', dict(STRONGSWAN_UP, PLUTO_VERB='down-client'))
    hooks('strongswan', dict(STRONGSWAN_UP, PLUTO_VERB='up-host', PLUTO_XAUTH_ID='alice@corp'), identity='user')
    hooks('strongswan', STRONGSWAN_UP, identity='user')   # no EAP / XAuth round: no user, no record
    hooks('strongswan', dict(STRONGSWAN_UP, PLUTO_PEER_ID='C=CH, O=Corp, CN=laptop-ss-02'))
    assert [fields(r) for r in hooks.records()] == [
        ('strongswan', 'connect', 'start', 'vpn_cert', 'CN=laptop-ss-01', '10.91.0.10', None, {}),
        ('strongswan', 'disconnect', 'end', 'vpn_cert', 'CN=laptop-ss-01', '10.91.0.10', None, {}),
        ('strongswan', 'connect', 'start', 'vpn_user', 'alice@corp', '10.91.0.10', None, {}),
        # a DN with spaces and commas, as charon prints it: hex, as the session-table reader encodes it
        ('strongswan', 'connect', 'start', 'vpn_cert', '%' + b'C=CH, O=Corp, CN=laptop-ss-02'.hex(), '10.91.0.10', None, {}),
    ]


@pytest.mark.parametrize('env', [
    dict(STRONGSWAN_UP, PLUTO_VERB='up-client-v6'),
    dict(STRONGSWAN_UP, PLUTO_VERB='prepare-host'),
    {k: v for k, v in STRONGSWAN_UP.items() if k != 'PLUTO_PEER_SOURCEIP'},   # site-to-site: no virtual IP
    dict(STRONGSWAN_UP, PLUTO_PEER_SOURCEIP='fd00::2'),
    dict(STRONGSWAN_UP, PLUTO_PEER_SOURCEIP='10.91.0.10;touch {marker}'),
    dict(STRONGSWAN_UP, PLUTO_PEER_ID=''),
    {},
])
def test_strongswan_calls_without_a_session_to_record_write_nothing(hooks, env):
    hooks('strongswan', {k: v.format(marker=hooks.marker) for k, v in env.items()})
    assert hooks.records() == [] and not hooks.marker.exists()


@pytest.mark.parametrize('server', ['openvpn', 'ocserv', 'strongswan'])
def test_hostile_values_are_recorded_exactly_as_the_reader_encodes_them_and_never_run(hooks, server):
    rng = random.Random(20261201)
    values = [v.format(marker=hooks.marker) for v in HOSTILE]
    values += [bytes(rng.choice([rng.randrange(1, 128), rng.randrange(128, 256)]) for _byte in range(rng.randrange(1, 140)))
               .decode('utf-8', 'surrogateescape') for _value in range(25)]
    for value in values:
        if server == 'openvpn':
            env = dict(OPENVPN_CONNECT, common_name=value, IV_HWADDR=value, IV_PLAT=value)
        elif server == 'strongswan':
            env = dict(STRONGSWAN_UP, PLUTO_PEER_ID=value)
        else:
            env = dict(OCSERV_CONNECT, USERNAME=value, HOSTNAME=value, DEVICE_PLATFORM=value, DEVICE_TYPE=value)
        hooks(server, env, identity='user' if server == 'ocserv' else 'cert')
    records = hooks.records()
    assert len(records) == len(values)
    fmt = hooks.module.format_spool_record
    written = (hooks.spool / 'current').read_text().split('\n')[1::2]
    for value, record, line in zip(values, records, written):
        if server == 'openvpn':
            expected = fmt('openvpn', 'connect', value, '10.88.0.2', id_kind='vpn_cert', version='rs2',
                           aliases={'hwaddr': value, 'platform': value})
        elif server == 'strongswan':
            expected = fmt('strongswan', 'connect', value, '10.91.0.10', id_kind='vpn_cert', version='rs2')
        else:
            expected = fmt('ocserv', 'connect', value, '10.89.0.50', hostname=value, id_kind='vpn_user', version='rs2',
                           aliases={'platform': value, 'device_type': value})
        assert line.split(' ')[4:] == expected.rstrip('\n').split(' ')[4:], value
        assert record.id_value == expected.split(' ')[7]
    assert not hooks.marker.exists()


@pytest.mark.skipif(not shutil.which('strace'), reason='strace not installed')
@pytest.mark.parametrize('server, env', [('openvpn', OPENVPN_CONNECT), ('ocserv', OCSERV_CONNECT), ('strongswan', STRONGSWAN_UP)])
def test_hook_forks_nothing_and_writes_once(hooks, server, env):
    script = render_vpn_hook(server, hooks.tmp / 'traced-hook', hooks.spool, 'user' if server == 'ocserv' else 'cert')
    trace = hooks.tmp / 'trace'
    hostile = dict(env, common_name='x;$(id)`id`', USERNAME='x;$(id)`id`', IV_HWADDR='y' * 200, PLUTO_PEER_ID='CN=x;$(id)`id`')
    subprocess.run(['strace', '-f', '-o', str(trace), '-e', 'trace=process,write', str(script)],
                   env=hostile, check=True, timeout=30)
    syscalls = [m.group(1) for m in (re.match(r'^\d+\s+(\w+)\(', line) for line in trace.read_text().splitlines()) if m]
    assert [c for c in syscalls if c in ('clone', 'clone3', 'fork', 'vfork')] == []
    assert syscalls.count('execve') == 1
    assert syscalls.count('write') == 1
    assert len(hooks.records()) == 1


@pytest.mark.parametrize('server, env', [('openvpn', OPENVPN_CONNECT), ('ocserv', OCSERV_CONNECT), ('strongswan', STRONGSWAN_UP)])
def test_missing_or_unwritable_spool_still_exits_0_silently(hooks, server, env):
    identity = 'user' if server == 'ocserv' else 'cert'
    hooks(server, env, identity, spool_dir=hooks.tmp / 'no' / 'such' / 'dir')
    (hooks.tmp / 'not-a-dir').write_text('')
    hooks(server, env, identity, spool_dir=hooks.tmp / 'not-a-dir')


@pytest.mark.skipif(not shutil.which('shellcheck'), reason='shellcheck not installed')
@pytest.mark.parametrize('server, identity', [('openvpn', 'cert'), ('openvpn', 'user'), ('ocserv', 'user'),
                                              ('strongswan', 'cert'), ('strongswan', 'user')])
def test_hook_is_shellcheck_clean(tmp_path, server, identity):
    script = render_vpn_hook(server, tmp_path / 'hook', tmp_path, identity)
    proc = subprocess.run(['shellcheck', '-s', 'sh', str(script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
