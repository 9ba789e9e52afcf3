# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""strongSwan's session table over vici: the protocol against a fake charon on a unix socket (the
messages shaped as charon 5.9 sends them in tests/e2e/test_strongswan_hook_e2e.py), and the rows."""
from __future__ import annotations

import socket
import struct
import threading

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_strongswan import (
    ViciError,
    list_sas,
    parse_message,
    strongswan_sessions_rows,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._session_tables import holds, strongswan_sessions
from ansible_collections.roamscan.qualys.plugins.module_utils._source_tables import TABLE_ERRORS, TABLE_READERS


def name(value):
    raw = value.encode()
    return bytes((len(raw),)) + raw


def key_value(key, value):
    return b'\x03' + name(key) + struct.pack('>H', len(value)) + value


def listing(key, items):
    return b'\x04' + name(key) + b''.join(b'\x05' + struct.pack('>H', len(item)) + item for item in items) + b'\x06'


def section(key, *elements):
    return b'\x01' + name(key) + b''.join(elements) + b'\x02'


def sa(connection, state, remote_id, vips, eap=None):
    elements = [key_value('uniqueid', b'1'), key_value('state', state), key_value('remote-id', remote_id)]
    if eap is not None:
        elements.append(key_value('remote-eap-id', eap))
    elements += [listing('remote-vips', vips), section('child-sas', section('net-1', key_value('state', b'INSTALLED')))]
    return section(connection, *elements)


SAS = [sa('rw', b'ESTABLISHED', b'CN=laptop-vpn-01', [b'10.91.0.10']),
       sa('rw', b'ESTABLISHED', b'CN=$(touch pwned), O=x', [b'10.91.0.11', b'fd00::11'], eap=b'alice@corp'),
       sa('rw', b'CONNECTING', b'CN=half-open', [b'10.91.0.12']),
       sa('site', b'ESTABLISHED', b'CN=branch-office', [])]


def packet(kind, body):
    payload = bytes((kind,)) + body
    return struct.pack('>I', len(payload)) + payload


class FakeCharon:
    """Answers event registration and ``list-sas`` like charon: one ``list-sa`` event per SA, then the reply."""

    def __init__(self, path, sas, answer=None):
        self.requests = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(1)
        self.sas, self.answer = sas, answer
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def receive(self, conn):
        size = struct.unpack('>I', conn.recv(4))[0]
        data = b''
        while len(data) < size:
            data += conn.recv(size - len(data))
        self.requests.append(data)
        return data

    def serve(self):
        conn, dummy = self.server.accept()
        with conn:
            self.receive(conn)                                    # EVENT_REGISTER list-sa
            conn.sendall(packet(5, b''))
            self.receive(conn)                                    # CMD_REQUEST list-sas
            if self.answer is not None:
                conn.sendall(self.answer)
                return
            for item in self.sas:
                conn.sendall(packet(7, name('list-sa') + item))
            conn.sendall(packet(1, b''))
            self.receive(conn)                                    # EVENT_UNREGISTER


def test_list_sas_speaks_vici_and_keeps_identities_as_bytes(tmp_path):
    charon = FakeCharon(tmp_path / 'charon.vici', SAS)
    sas = list_sas(str(tmp_path / 'charon.vici'))
    assert charon.requests[:2] == [b'\x03\x07list-sa', b'\x00\x08list-sas']
    assert [(item['name'], item['remote-id'], item['remote-vips']) for item in sas] == [
        ('rw', b'CN=laptop-vpn-01', [b'10.91.0.10']), ('rw', b'CN=$(touch pwned), O=x', [b'10.91.0.11', b'fd00::11']),
        ('rw', b'CN=half-open', [b'10.91.0.12']), ('site', b'CN=branch-office', [])]
    assert sas[0]['child-sas'] == {'net-1': {'state': b'INSTALLED'}}
    # established, IPv4 virtual IPs only; the EAP identity beside the peer identity
    assert strongswan_sessions_rows(sas) == [
        {'peer_id': b'CN=laptop-vpn-01', 'xauth_id': None, 'ip': '10.91.0.10'},
        {'peer_id': b'CN=$(touch pwned), O=x', 'xauth_id': b'alice@corp', 'ip': '10.91.0.11'}]


def test_sessions_are_encoded_as_the_hook_writes_them(tmp_path):
    FakeCharon(tmp_path / 'charon.vici', SAS)
    sessions = strongswan_sessions(str(tmp_path / 'charon.vici'), 1796116415, 'gw1')
    assert TABLE_READERS['strongswan'] is strongswan_sessions
    assert [(s['identity']['kind'], s['identity']['value'], s['ip']) for s in sessions] == [
        ('vpn_cert', 'CN=laptop-vpn-01', '10.91.0.10'),
        ('vpn_cert', '%' + b'CN=$(touch pwned), O=x'.hex(), '10.91.0.11'),
        ('vpn_user', 'alice@corp', '10.91.0.11')]
    assert holds(sessions, 'vpn_cert', 'CN=laptop-vpn-01', '10.91.0.10')
    assert not holds(sessions, 'vpn_cert', 'CN=laptop-vpn-01', '10.91.0.11')


@pytest.mark.parametrize('answer, message', [
    (None, 'cannot reach charon'),
    (packet(2, b''), r'unexpected vici answer \(type 2\) to list-sas'),
    (struct.pack('>I', 10 ** 9), 'vici packet of 1000000000 bytes'),
    (packet(7, name('list-sa') + b'\x01\x02rw\x03'), 'truncated vici message'),
    (packet(7, name('list-sa') + b'\x01\x02rw'), 'unterminated vici message'),
    (packet(7, name('list-sa') + b'\x09'), 'unknown vici element 9'),
    (b'\x00\x00', 'charon closed the vici socket'),
])
def test_a_missing_or_misbehaving_charon_is_a_table_error(tmp_path, answer, message):
    path = tmp_path / 'charon.vici'
    if answer is not None:
        FakeCharon(path, [], answer=answer)
    with pytest.raises(ViciError, match=message) as caught:
        list_sas(str(path))
    assert isinstance(caught.value, TABLE_ERRORS)


def test_parse_message_nests_sections_and_lists():
    assert parse_message(section('a', key_value('k', b'v'), listing('l', [b'1', b'2'])) + key_value('top', b'')) == \
        {'a': {'k': b'v', 'l': [b'1', b'2']}, 'top': b''}
    with pytest.raises(ViciError, match='unbalanced'):
        parse_message(b'\x02')
