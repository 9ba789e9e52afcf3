# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live session tables of the VPN servers, in one shape, for the re-check before a launch.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on the VPN server). A session is ``{identity: {kind, value},
ip, since}`` with the identity value encoded exactly as the hooks write it in the spool (as-is
when safe, else ``%`` + hex), so a spool record and a table row compare as strings. A tunnel IP
counts only while the same identity still holds it (``holds``).
"""

from __future__ import annotations

import time

from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_ocserv import OcctlError, read_occtl_users
from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_openvpn import (
    DEFAULT_STATUS_FILE,
    OpenVpnStatusError,
    read_openvpn_status,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_wireguard import WireGuardError, read_wg_dump
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import _encoded as encode_identity

# WireGuard: a handshake this recent means the peer is there (REJECT_AFTER_TIME); older says nothing
MAX_HANDSHAKE_AGE = 180
# where each table lives: the status file, ocserv's occtl socket (None: occtl's default), the interface
DEFAULT_SESSION_TABLES = {'openvpn': DEFAULT_STATUS_FILE, 'ocserv': None, 'wireguard': 'wg0'}
SESSION_TABLE_ERRORS = (OpenVpnStatusError, OcctlError, WireGuardError)


def _session(kind, raw_value, ip, since):
    value = raw_value.decode('utf-8', 'surrogateescape') if isinstance(raw_value, bytes) else raw_value
    return {'identity': {'kind': kind, 'value': encode_identity(value, 128)}, 'ip': ip, 'since': since}


def openvpn_sessions(path=None, now=None):
    """Sessions in OpenVPN's status file: one per certificate name and one per user name, so a
    record of either identity kind can be checked."""
    sessions = []
    for row in read_openvpn_status(path, now)[1]:
        if row['common_name']:
            sessions.append(_session('vpn_cert', row['common_name'], row['ip'], row['since']))
        if row['username']:
            sessions.append(_session('vpn_user', row['username'], row['ip'], row['since']))
    return sessions


def ocserv_sessions(socket_file=None, now=None):
    """Connected ocserv users (``occtl --json show users``)."""
    return [_session('vpn_user', row['username'], row['ip'], None) for row in read_occtl_users(socket_file)]


def wireguard_sessions(interface, now=None, max_handshake_age=MAX_HANDSHAKE_AGE):
    """WireGuard peers with a handshake in the last ``max_handshake_age`` seconds, one per /32
    allowed IP; ``since`` is the handshake time."""
    now = time.time() if now is None else now
    sessions = []
    for peer in read_wg_dump(interface):
        handshake = peer['latest_handshake']
        if handshake is not None and now - handshake < max_handshake_age:
            sessions.extend(_session('wg_key', peer['public_key'], ip, handshake) for ip in peer['allowed_ips'])
    return sessions


SESSION_TABLE_READERS = {'openvpn': openvpn_sessions, 'ocserv': ocserv_sessions, 'wireguard': wireguard_sessions}


def read_session_table(source, where=None, now=None):
    """The live sessions of ``source`` (openvpn, ocserv or wireguard) at ``where`` (its status
    file, occtl socket or interface; default DEFAULT_SESSION_TABLES)."""
    return SESSION_TABLE_READERS[source](where or DEFAULT_SESSION_TABLES[source], now)


def holds(sessions, identity_kind, identity_value, ip):
    """Whether the identity (kind, encoded value as in the spool) holds ``ip`` in ``sessions``."""
    return any(s['ip'] == ip and s['identity'] == {'kind': identity_kind, 'value': identity_value} for s in sessions)
