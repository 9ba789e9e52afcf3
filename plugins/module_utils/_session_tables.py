# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live session tables of the VPN servers as observations, for the re-check before a launch.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on the VPN server). Each reader has the _source_tables shape
(where, now, host, run_command) -> [observation]: one ``seen`` observation per identity holding a tunnel IP,
with the identity value encoded exactly as the hooks write it in the spool (as-is when safe,
else ``%`` + hex), so a spool record and a table row compare as strings. A tunnel IP counts
only while the same identity still holds it (``holds``).
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._observation import observation
from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_ocserv import OcctlError, read_occtl_users
from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_openvpn import (
    DEFAULT_STATUS_FILE,
    OpenVpnStatusError,
    StaleStatusFile,
    read_openvpn_status,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_wireguard import WireGuardError, read_wg_dump
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import _encoded as encode_value
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time

# WireGuard: a handshake this recent means the peer is there (REJECT_AFTER_TIME); older says nothing
MAX_HANDSHAKE_AGE = 180
# where each table lives: the status file, ocserv's occtl socket (None: occtl's default), the interface
DEFAULT_SESSION_TABLES = {'openvpn': DEFAULT_STATUS_FILE, 'ocserv': None, 'wireguard': 'wg0'}
SESSION_TABLE_ERRORS = (OpenVpnStatusError, OcctlError, WireGuardError)


def _seen(source, host, why, kind, raw_value, ip, time, until=None):
    value = raw_value.decode('utf-8', 'surrogateescape') if isinstance(raw_value, bytes) else raw_value
    return observation(source, host, 'seen', why, kind, encode_value(value, 128), ip, iso_time(time),
                       until=iso_time(until) if until is not None else None)


def openvpn_sessions(path, now, host, run_command=None):
    """Sessions in OpenVPN's status file: one observation per certificate name and one per user
    name, so a record of either identity kind can be checked. A stale file (an idle server stops
    rewriting it, ended sessions included) confirms nobody: no sessions, and the spool is still
    read; a missing or broken file is an error."""
    try:
        rows = read_openvpn_status(path, now)[1]
    except StaleStatusFile:
        return []
    sessions = []
    for row in rows:
        if row['common_name']:
            sessions.append(_seen('openvpn', host, 'connected', 'vpn_cert', row['common_name'], row['ip'], now))
        if row['username']:
            sessions.append(_seen('openvpn', host, 'connected', 'vpn_user', row['username'], row['ip'], now))
    return sessions


def ocserv_sessions(socket_file, now, host, run_command):
    """Connected ocserv users (``occtl --json show users``)."""
    return [_seen('ocserv', host, 'connected', 'vpn_user', row['username'], row['ip'], now)
            for row in read_occtl_users(socket_file, run_command)]


def recent_handshake(peer, now, max_handshake_age=MAX_HANDSHAKE_AGE):
    """Whether a parsed WireGuard peer shook hands in the last ``max_handshake_age`` seconds."""
    return peer['latest_handshake'] is not None and now - peer['latest_handshake'] < max_handshake_age


def wireguard_observations(peers, now, host, max_handshake_age=MAX_HANDSHAKE_AGE):
    """One observation per /32 allowed IP of each peer with a recent handshake, at the handshake's
    time, ``until`` the moment its session keys expire (handshake + REJECT_AFTER_TIME): only that
    peer can answer at its allowed IP, and only while it holds keys. An older handshake gives
    nothing: WireGuard has no disconnect, so silence never means "gone"."""
    return [_seen('wireguard', host, 'handshake', 'wg_key', peer['public_key'], ip, peer['latest_handshake'],
                  until=peer['latest_handshake'] + MAX_HANDSHAKE_AGE)
            for peer in peers if recent_handshake(peer, now, max_handshake_age) for ip in peer['allowed_ips']]


def wireguard_sessions(interface, now, host, run_command):
    """WireGuard peers of ``interface`` with a handshake in the last MAX_HANDSHAKE_AGE seconds."""
    return wireguard_observations(read_wg_dump(interface, run_command), now, host)


SESSION_TABLE_READERS = {'openvpn': openvpn_sessions, 'ocserv': ocserv_sessions, 'wireguard': wireguard_sessions}


def holds(sessions, identity_kind, identity_value, ip):
    """Whether the identity (kind, value as in the spool) holds ``ip`` in ``sessions``."""
    wanted = {'kind': identity_kind, 'value': identity_value}
    return any(s['event'] == 'seen' and s['ip'] == ip and s['identity'] == wanted for s in sessions)
