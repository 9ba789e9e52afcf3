# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VPN session tables: OpenVPN status v3, occtl JSON, wg dump (samples as the real servers print
them in tests/e2e), and the re-check that a tunnel IP is still held by the same identity."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_ocserv import OcctlError, parse_occtl_users
from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_openvpn import (
    OpenVpnStatusError,
    StaleStatusFile,
    parse_openvpn_status,
    read_openvpn_status,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_wireguard import (
    WireGuardError,
    parse_wg_dump,
    read_wg_dump,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._session_tables import (
    holds,
    ocserv_sessions,
    openvpn_sessions,
    wireguard_observations,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._source_tables import TABLE_ERRORS, TABLE_READERS

UPDATED = 1796116415
STATUS_V3 = (
    b'TITLE\tOpenVPN 2.6.14 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]\n'
    b'TIME\t2026-12-01 09:13:35\t1796116415\n'
    b'HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received\tBytes Sent'
    b'\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher\n'
    b'CLIENT_LIST\tlaptop-vpn-01\t10.87.0.2:58594\t10.88.0.2\t\t2085\t2000\t2026-12-01 09:13:33\t1796116413\tUNDEF\t0\t0'
    b'\tAES-256-GCM\n'
    b'CLIENT_LIST\t$(touch pwned)\t10.87.0.2:59668\t10.88.0.3\t\t2027\t2047\t2026-12-01 09:13:34\t1796116414\t\xff\xferaw'
    b'\t1\t1\tAES-256-GCM\n'
    b'CLIENT_LIST\tno-pool\t10.87.0.2:40000\t\t\t1\t1\t2026-12-01 09:13:34\t1796116414\tUNDEF\t2\t2\tAES-256-GCM\n'
    b'HEADER\tROUTING_TABLE\tVirtual Address\tCommon Name\tReal Address\tLast Ref\tLast Ref (time_t)\n'
    b'ROUTING_TABLE\t10.88.0.2\tlaptop-vpn-01\t10.87.0.2:58594\t2026-12-01 09:13:33\t1796116413\n'
    b'GLOBAL_STATS\tMax bcast/mcast queue length\t0\nGLOBAL_STATS\tdco_enabled\t0\nEND\n')
OCCTL = '''[
  {
    "ID":  2913, "Username":  "alice", "Groupname":  "(none)", "State":  "connected", "vhost":  "default",
    "Device":  "vpns0", "Remote IP":  "10.87.0.2", "IPv4":  "10.89.0.50", "P-t-P IPv4":  "10.89.0.1",
    "Hostname":  "vm", "Routes":	[], "Routes":  "defaultroute"
  },
  {"ID": 2914, "Username": "b\\u00ff\\u00ff", "State": "connected", "IPv4": "10.89.0.51"},
  {"ID": 2915, "Username": "$(touch pwned)", "State": "connected", "IPv4": "10.89.0.52"},
  {"ID": 2916, "Username": "carol", "State": "pre-auth", "IPv4": "10.89.0.53"},
  {"ID": 2917, "Username": "dave", "State": "connected", "IPv4": ""}
]'''
PRIVATE = 'MJl6KpSWr57usB3R2FrzjvX7UW84IA0gsvhHsdsqUVg='
PRESHARED = 'cGVlcnByZXNoYXJlZGtleXNlY3JldHNlY3JldHNlYzA='
PEER_A = 'zIBJ1WJgFDkJWyJGDpLiG8TwV0kmxL5Z+oxg9bzK7Rc='
PEER_B = '+AMhlQ6rpsGfTY73DZ0XbWANFpVkP0kfx7vPwMyRp1o='
WG_DUMP = (
    '%s\tXaOGjDTj1+K8dbyIoSRvawhkGuLrcwJzAIiPbBOXphE=\t51820\toff\n' % PRIVATE
    + '%s\t%s\t10.87.0.2:51716\t10.90.0.2/32\t1796116463\t212\t188\toff\n' % (PEER_A, PRESHARED)
    + '%s\t(none)\t(none)\t10.90.0.3/32,10.91.0.0/24\t0\t0\t0\toff\n' % PEER_B)


def test_openvpn_status_v3_rows():
    updated, rows = parse_openvpn_status(STATUS_V3)
    assert updated == UPDATED
    assert rows == [
        {'common_name': b'laptop-vpn-01', 'username': None, 'ip': '10.88.0.2', 'since': 1796116413},
        {'common_name': b'$(touch pwned)', 'username': b'\xff\xferaw', 'ip': '10.88.0.3', 'since': 1796116414},
    ]


@pytest.mark.parametrize('data, message', [
    (STATUS_V3[:-4], 'no END line'),
    (b'', 'no TITLE'),
    (b'OpenVPN CLIENT LIST\nUpdated,2026-12-01 09:13:35\n', 'version 1 or 2'),
    (b'TITLE,OpenVPN 2.6.14\nTIME,2026-12-01 09:13:35,1796116415\nEND\n', 'version 1 or 2'),
    (STATUS_V3.replace(b'\tUsername', b'\tUser'), 'lacks Username'),
    (STATUS_V3.replace(b'\t0\t0\tAES', b'\t0\tAES', 1), 'fields, the header has'),
    (b'TITLE\tx\nCLIENT_LIST\ta\nEND\n', 'before its HEADER'),
    (b'TITLE\tx\nTIME\ty\t1\nEND\n', 'no CLIENT_LIST header'),
])
def test_openvpn_status_refused(data, message):
    with pytest.raises(OpenVpnStatusError, match=message):
        parse_openvpn_status(data)


def test_openvpn_status_file_stale_or_missing(tmp_path):
    path = tmp_path / 'status.log'
    path.write_bytes(STATUS_V3)
    assert read_openvpn_status(str(path), now=UPDATED + 30)[0] == UPDATED
    with pytest.raises(StaleStatusFile, match='31 s ago'):
        read_openvpn_status(str(path), now=UPDATED + 31)
    with pytest.raises(OpenVpnStatusError, match='cannot read'):
        read_openvpn_status(str(tmp_path / 'absent'))


def test_openvpn_sessions_confirm_the_same_identity_at_the_same_ip_only(tmp_path):
    path = tmp_path / 'status.log'
    path.write_bytes(STATUS_V3)
    sessions = openvpn_sessions(str(path), UPDATED + 1, 'vpn1')
    assert [(s['identity']['kind'], s['identity']['value'], s['ip'], s['event'], s['authority']) for s in sessions] == [
        ('vpn_cert', 'laptop-vpn-01', '10.88.0.2', 'seen', 'table'),
        ('vpn_cert', '%2428746f7563682070776e656429', '10.88.0.3', 'seen', 'table'),
        ('vpn_user', '%fffe726177', '10.88.0.3', 'seen', 'table'),
    ]
    assert holds(sessions, 'vpn_cert', 'laptop-vpn-01', '10.88.0.2')
    assert not holds(sessions, 'vpn_cert', 'laptop-vpn-01', '10.88.0.3')   # the address is someone else's now
    assert not holds(sessions, 'vpn_user', 'laptop-vpn-01', '10.88.0.2')   # same value, other identity kind
    assert holds(sessions, 'vpn_user', '%fffe726177', '10.88.0.3')
    # an idle server left this file behind: it confirms nobody, and is no error for the spool read
    assert openvpn_sessions(str(path), UPDATED + 31, 'vpn1') == []


def test_occtl_users():
    assert parse_occtl_users(OCCTL) == [
        {'username': b'alice', 'ip': '10.89.0.50', 'session_id': 2913},
        {'username': b'$(touch pwned)', 'ip': '10.89.0.52', 'session_id': 2915},
    ]
    for text in ('not json', '{"Username": "alice"}'):
        with pytest.raises(OcctlError):
            parse_occtl_users(text)


def test_occtl_run_failure_and_sessions():
    def occtl(argv):
        assert argv == ['occtl', '--socket-file', '/run/occtl.socket', '--json', 'show', 'users']
        return 0, OCCTL, ''
    sessions = ocserv_sessions('/run/occtl.socket', UPDATED, 'vpn1', occtl)
    assert holds(sessions, 'vpn_user', 'alice', '10.89.0.50')
    assert holds(sessions, 'vpn_user', '%2428746f7563682070776e656429', '10.89.0.52')
    with pytest.raises(OcctlError, match='could not connect'):
        ocserv_sessions(None, UPDATED, 'vpn1', lambda argv: (1, '', 'could not connect to ocserv'))


def test_wg_dump_keeps_no_secret_key():
    peers = parse_wg_dump(WG_DUMP)
    assert peers == [
        {'public_key': PEER_A, 'endpoint': '10.87.0.2:51716', 'allowed_ips': ['10.90.0.2'], 'latest_handshake': 1796116463},
        {'public_key': PEER_B, 'endpoint': None, 'allowed_ips': ['10.90.0.3'], 'latest_handshake': None},
    ]
    assert PRIVATE not in repr(peers) and PRESHARED not in repr(peers)


@pytest.mark.parametrize('text', [
    '',
    PRIVATE + '\n',
    WG_DUMP + '%s\t(none)\n' % PRIVATE,
    WG_DUMP + '%s\t(none)\t(none)\t10.90.0.9/32\t0\t0\t0\toff\n' % PRIVATE.replace('g=', 'h='),
    WG_DUMP.replace('\t1796116463\t', '\t%s\t' % PRIVATE),
])
def test_wg_dump_errors_never_quote_a_line(text):
    with pytest.raises(WireGuardError) as error:
        parse_wg_dump(text)
    assert PRIVATE not in str(error.value) and PRESHARED not in str(error.value)


def test_wg_interface_names_are_checked_before_running_wg():
    def never(argv):
        raise AssertionError('wg must not run')
    for name in ('-h', 'a b', 'x;id', '', 'x' * 16, None):
        with pytest.raises(WireGuardError, match='not an interface name'):
            read_wg_dump(name, never)


def test_wg_failure_names_the_interface_and_no_key():
    with pytest.raises(WireGuardError, match='wg show wg9 dump failed .rc=1.: Unable to access interface'):
        read_wg_dump('wg9', lambda argv: (1, '', 'Unable to access interface: No such device\n'))
    assert read_wg_dump('wg0', lambda argv: (0, WG_DUMP, ''))[0]['public_key'] == PEER_A


def test_wireguard_recent_handshakes_only_and_never_gone():
    peers = parse_wg_dump(WG_DUMP)
    seen = wireguard_observations(peers, 1796116463 + 179, 'vpn1')
    assert [(o['event'], o['why'], o['identity'], o['ip'], o['time']) for o in seen] == [
        ('seen', 'handshake', {'kind': 'wg_key', 'value': PEER_A}, '10.90.0.2', '2026-12-01T09:14:23Z')]
    assert seen[0]['until'] == '2026-12-01T09:17:23Z'    # its session keys expire 180 s after the handshake
    assert wireguard_observations(peers, 1796116463 + 180, 'vpn1') == []
    assert wireguard_observations(peers, 1796116463 + 10, 'vpn1', max_handshake_age=5) == []
    # a key starting with '+' is encoded as the spool would carry it
    recent_b = [dict(peers[1], latest_handshake=1796116463)]
    assert wireguard_observations(recent_b, 1796116464, 'vpn1')[0]['identity']['value'] == '%' + PEER_B.encode().hex()


def test_vpn_sources_are_in_the_table_registry():
    assert {'openvpn', 'ocserv', 'wireguard'} <= set(TABLE_READERS)
    assert {OpenVpnStatusError, OcctlError, WireGuardError} <= set(TABLE_ERRORS)
