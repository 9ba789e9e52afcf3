# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""OpenVPN's live session table: the status file, version 3 (``status FILE N`` + ``status-version 3``).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on the VPN server). OpenVPN rewrites the file in place every N
seconds, but only while it has work: an idle server (no client, no keepalive due) leaves the
last file in place, sessions that have ended included. So a file older than ``max_age`` is
refused, like a file without its ``END`` line (being rewritten, or cut short): neither is ever
read as "these sessions are live" or as "nobody connected".
"""

from __future__ import annotations

import os
import time

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip

DEFAULT_STATUS_FILE = '/run/openvpn-server/status-roamscan.log'
# the role's status interval (10 s) plus a usual keepalive ping (10 s) plus slack
DEFAULT_MAX_AGE = 30
MAX_STATUS_BYTES = 16 * 1024 * 1024
_REQUIRED_COLUMNS = ('Common Name', 'Virtual Address', 'Username')
_SINCE_COLUMN = 'Connected Since (time_t)'


class OpenVpnStatusError(ValueError):
    """A status file that cannot be read or is not a complete version 3 file."""


def parse_openvpn_status(data):
    """The sessions of a version 3 status file (bytes): ``(updated, rows)`` with ``updated`` the
    file's TIME (epoch or None) and rows ``{common_name, username, ip, since}`` (names as the raw
    bytes OpenVPN wrote, ``username`` None for ``UNDEF``). Sessions without an IPv4 pool address
    are left out: roamscan cannot scan them."""
    lines = data.split(b'\n')
    if lines and lines[-1] == b'':
        lines.pop()
    if not lines or not lines[0].startswith(b'TITLE\t'):
        if data.startswith((b'OpenVPN CLIENT LIST', b'TITLE,')):
            raise OpenVpnStatusError('status file is version 1 or 2; the reader needs status-version 3')
        raise OpenVpnStatusError('not an OpenVPN status file (no TITLE line)')
    if lines[-1] != b'END':
        raise OpenVpnStatusError('status file has no END line (being rewritten or truncated)')
    updated = None
    columns = None
    rows = []
    for number, line in enumerate(lines, 1):
        fields = line.split(b'\t')
        tag = fields[0]
        if tag == b'TIME' and len(fields) == 3 and fields[2].isdigit():
            updated = int(fields[2])
        elif tag == b'HEADER' and len(fields) > 1 and fields[1] == b'CLIENT_LIST':
            columns = {name.decode('ascii', 'replace'): index for index, name in enumerate(fields[1:])}
            missing = [name for name in _REQUIRED_COLUMNS if name not in columns]
            if missing:
                raise OpenVpnStatusError('CLIENT_LIST header lacks %s' % ', '.join(missing))
        elif tag == b'CLIENT_LIST':
            if columns is None:
                raise OpenVpnStatusError('line %d: CLIENT_LIST before its HEADER' % number)
            if len(fields) != len(columns):
                raise OpenVpnStatusError('line %d: %d fields, the header has %d' % (number, len(fields), len(columns)))
            row = _client_row(fields, columns)
            if row is not None:
                rows.append(row)
    if columns is None:
        raise OpenVpnStatusError('status file has no CLIENT_LIST header')
    return updated, rows


def _client_row(fields, columns):
    try:
        ip = normalize_ip(fields[columns['Virtual Address']].decode('ascii'))
    except (InvalidIp, UnicodeDecodeError):
        return None
    username = fields[columns['Username']]
    since = fields[columns[_SINCE_COLUMN]] if _SINCE_COLUMN in columns else b''
    return {'common_name': fields[columns['Common Name']] or None,
            'username': None if username in (b'', b'UNDEF') else username,
            'ip': ip,
            'since': int(since) if since.isdigit() else None}


class StaleStatusFile(OpenVpnStatusError):
    """A status file OpenVPN has not rewritten for longer than allowed: its sessions prove nothing."""


def read_openvpn_status(path=None, now=None, max_age=DEFAULT_MAX_AGE):
    """``parse_openvpn_status`` of the file at ``path`` (default DEFAULT_STATUS_FILE);
    StaleStatusFile when its TIME is more than ``max_age`` seconds before ``now`` (default: now)."""
    path = path or DEFAULT_STATUS_FILE
    try:
        with open(path, 'rb') as handle:
            if os.fstat(handle.fileno()).st_size > MAX_STATUS_BYTES:
                raise OpenVpnStatusError('%s is larger than %d bytes' % (path, MAX_STATUS_BYTES))
            data = handle.read()
    except OSError as exc:
        raise OpenVpnStatusError('cannot read %s: %s' % (path, exc.strerror or exc)) from None
    try:
        updated, rows = parse_openvpn_status(data)
    except OpenVpnStatusError as exc:
        raise OpenVpnStatusError('%s: %s' % (path, exc)) from None
    age = (time.time() if now is None else now) - (updated or 0)
    if age > max_age:
        raise StaleStatusFile('%s was last rewritten %d s ago (more than %d s): OpenVPN rewrites it only while it has '
                              'work, so its sessions prove nothing' % (path, age, max_age))
    return updated, rows
