# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ocserv's live session table: ``occtl --json show users`` (needs ``use-occtl = true``).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on the VPN server). occtl 1.1 writes every byte above 0x7f of a
user name as ``\\u00ff`` (lossy): such a name cannot be matched and its session is left out, so
it is never confirmed.
"""

from __future__ import annotations

import json

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip

MAX_OCCTL_BYTES = 16 * 1024 * 1024


class OcctlError(ValueError):
    """occtl failed (ocserv not running, no occtl socket) or printed something else than its JSON."""


def parse_occtl_users(text):
    """The connected sessions in ``occtl --json show users`` output: rows ``{username (bytes),
    ip, session_id}``. Sessions still authenticating, without an IPv4 address or with a user name
    occtl mangled are left out."""
    try:
        users = json.loads(text)
    except ValueError:
        raise OcctlError('occtl printed no JSON') from None
    if not isinstance(users, list):
        raise OcctlError('occtl JSON is not a list of users')
    rows = []
    for user in users:
        if not isinstance(user, dict) or user.get('State') != 'connected':
            continue
        name = user.get('Username')
        if not isinstance(name, str) or not name or not name.isascii():
            continue
        try:
            ip = normalize_ip(str(user.get('IPv4', '')))
        except InvalidIp:
            continue
        rows.append({'username': name.encode('ascii'), 'ip': ip, 'session_id': user.get('ID')})
    return rows


def read_occtl_users(socket_file, run_command):
    """``parse_occtl_users`` of a live ``occtl`` run (``socket_file``: ocserv's occtl-socket-file;
    None: occtl's compiled-in default). ``run_command(argv)`` returns (rc, stdout, stderr) like
    AnsibleModule.run_command."""
    argv = ['occtl'] + (['--socket-file', socket_file] if socket_file else []) + ['--json', 'show', 'users']
    try:
        rc, out, err = run_command(argv)
    except OSError as exc:
        raise OcctlError('cannot run occtl: %s' % exc) from None
    if rc != 0:
        raise OcctlError('occtl failed (rc=%d): %s' % (rc, (err or out).strip()[:300]))
    if len(out) > MAX_OCCTL_BYTES:
        raise OcctlError('occtl printed more than %d bytes' % MAX_OCCTL_BYTES)
    return parse_occtl_users(out)
