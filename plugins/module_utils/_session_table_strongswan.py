# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""strongSwan's live session table: the IKE_SAs charon reports over its vici socket (``list-sas``).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on the VPN server). vici gives each SA's identities and virtual
IPs as exact bytes, where ``swanctl --list-sas`` prints them quoted for people (an identity with a
quote in it is ambiguous there). The socket is charon's (root-only, as swanctl needs).
The protocol (strongSwan's src/libcharon/plugins/vici/README.md): packets of a 32-bit big-endian
length and a type; a command is answered after the events it streams.
"""

from __future__ import annotations

import socket
import struct

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip

DEFAULT_VICI_SOCKET = '/var/run/charon.vici'
TIMEOUT = 10.0
MAX_PACKET = 512 * 1024
MAX_SAS = 100000
# packet types
CMD_REQUEST, CMD_RESPONSE, CMD_UNKNOWN, EVENT_REGISTER, EVENT_UNREGISTER, EVENT_CONFIRM, EVENT_UNKNOWN, EVENT = range(8)
# message elements
SECTION_START, SECTION_END, KEY_VALUE, LIST_START, LIST_ITEM, LIST_END = range(1, 7)


class ViciError(ValueError):
    """charon's vici socket cannot be reached, or it answered something else than the protocol."""


def parse_message(data):
    """A vici message as nested dicts: values and list items are bytes."""
    root, stack, key_list, position = {}, [], None, 0

    def take(size):
        nonlocal position
        if position + size > len(data):
            raise ViciError('truncated vici message')
        chunk = data[position:position + size]
        position += size
        return chunk

    def name():
        return take(take(1)[0]).decode('ascii', 'replace')

    current = root
    while position < len(data):
        element = take(1)[0]
        if element == SECTION_START:
            section = {}
            current[name()] = section
            stack.append(current)
            current = section
        elif element == SECTION_END:
            if not stack:
                raise ViciError('unbalanced vici section')
            current = stack.pop()
        elif element == KEY_VALUE:
            key = name()
            current[key] = take(struct.unpack('>H', take(2))[0])
        elif element == LIST_START:
            key_list = name()
            current[key_list] = []
        elif element == LIST_ITEM and key_list is not None:
            current[key_list].append(take(struct.unpack('>H', take(2))[0]))
        elif element == LIST_END and key_list is not None:
            key_list = None
        else:
            raise ViciError('unknown vici element %d' % element)
    if stack or key_list is not None:
        raise ViciError('unterminated vici message')
    return root


def _named(packet_type, label):
    raw = label.encode('ascii')
    return bytes((packet_type, len(raw))) + raw


class _Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(TIMEOUT)
        try:
            self.sock.connect(path)
        except OSError as exc:
            self.sock.close()
            raise ViciError('cannot reach charon at %s: %s' % (path, exc.strerror or exc)) from None

    def send(self, payload):
        self.sock.sendall(struct.pack('>I', len(payload)) + payload)

    def _exactly(self, size):
        chunks, left = [], size
        while left:
            chunk = self.sock.recv(left)
            if not chunk:
                raise ViciError('charon closed the vici socket')
            chunks.append(chunk)
            left -= len(chunk)
        return b''.join(chunks)

    def receive(self):
        size = struct.unpack('>I', self._exactly(4))[0]
        if not 1 <= size <= MAX_PACKET:
            raise ViciError('vici packet of %d bytes' % size)
        packet = self._exactly(size)
        return packet[0], packet[1:]

    def close(self):
        self.sock.close()


def list_sas(path=DEFAULT_VICI_SOCKET):
    """Every IKE_SA charon has: ``[{name, ...vici fields}]`` (the ``list-sa`` events of ``list-sas``)."""
    connection = _Connection(path)
    try:
        connection.send(_named(EVENT_REGISTER, 'list-sa'))
        if connection.receive()[0] != EVENT_CONFIRM:
            raise ViciError('charon refused the list-sa event')
        connection.send(_named(CMD_REQUEST, 'list-sas'))
        sas = []
        while True:
            kind, body = connection.receive()
            if kind == CMD_RESPONSE:
                break
            if kind != EVENT or len(sas) >= MAX_SAS:
                raise ViciError('unexpected vici answer (type %d) to list-sas' % kind)
            message = parse_message(body[1 + body[0]:])
            sas.extend(dict(sa, name=name) for name, sa in message.items() if isinstance(sa, dict))
        connection.send(_named(EVENT_UNREGISTER, 'list-sa'))
        return sas
    except (OSError, struct.error) as exc:
        raise ViciError('vici list-sas failed: %s' % exc) from None
    finally:
        connection.close()


def strongswan_sessions_rows(sas):
    """Established IKE_SAs as rows ``{peer_id, xauth_id (bytes or None), ip}``, one per IPv4 virtual
    IP; the identities as charon prints them (the updown script's PLUTO_PEER_ID / PLUTO_XAUTH_ID)."""
    rows = []
    for sa in sas:
        if sa.get('state') != b'ESTABLISHED' or not isinstance(sa.get('remote-id'), bytes):
            continue
        # charon calls the EAP identity remote-eap-id, the IKEv1 XAuth user remote-xauth-id
        user = sa.get('remote-eap-id') or sa.get('remote-xauth-id')
        for vip in sa.get('remote-vips') or []:
            try:
                ip = normalize_ip(vip.decode('ascii'))
            except (InvalidIp, UnicodeDecodeError):
                continue   # IPv6
            rows.append({'peer_id': sa['remote-id'], 'xauth_id': user if isinstance(user, bytes) else None, 'ip': ip})
    return rows
