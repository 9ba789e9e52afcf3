# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""WireGuard's live peer table: ``wg show INTERFACE dump``.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on the WireGuard host). The first dump line carries the
interface's PRIVATE key and every peer line its preshared key: both are dropped while parsing,
and no error message ever quotes a dump line.
"""

from __future__ import annotations

import re

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip

_INTERFACE = re.compile(r'[A-Za-z0-9_=+.-]{1,15}')
_PUBLIC_KEY = re.compile(r'[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=')
_INTERFACE_FIELDS = 4
_PEER_FIELDS = 8


class WireGuardError(ValueError):
    """``wg`` failed or printed something that is not a dump."""


def valid_interface(name):
    """Whether ``name`` can be a network interface name (and so an argument, never an option)."""
    return isinstance(name, str) and bool(_INTERFACE.fullmatch(name)) and not name.startswith('-')


def parse_wg_dump(text):
    """The peers of ``wg show IF dump`` output: ``{public_key, endpoint, allowed_ips,
    latest_handshake}`` with ``allowed_ips`` the IPv4 /32 addresses (what one peer holds) and
    ``latest_handshake`` epoch seconds or None (never). Keys other than the peer's public key are
    never kept."""
    lines = text.split('\n')
    if lines and lines[-1] == '':
        lines.pop()
    if not lines or len(lines[0].split('\t')) != _INTERFACE_FIELDS:
        raise WireGuardError('wg dump has no interface line')
    peers = []
    for number, line in enumerate(lines[1:], 2):
        fields = line.split('\t')
        if len(fields) != _PEER_FIELDS:
            raise WireGuardError('wg dump line %d: %d fields, a peer line has %d' % (number, len(fields), _PEER_FIELDS))
        # fields[1] is the preshared key: never kept
        public_key, endpoint, allowed_ips, handshake = fields[0], fields[2], fields[3], fields[4]
        if not _PUBLIC_KEY.fullmatch(public_key):
            raise WireGuardError('wg dump line %d: the peer key is not a WireGuard public key' % number)
        if not handshake.isdigit():
            raise WireGuardError('wg dump line %d: latest-handshake is not a number' % number)
        peers.append({'public_key': public_key,
                      'endpoint': None if endpoint == '(none)' else endpoint,
                      'allowed_ips': _host_addresses(allowed_ips),
                      'latest_handshake': int(handshake) or None})
    return peers


def _host_addresses(allowed_ips):
    addresses = []
    for network in allowed_ips.split(','):
        address, _slash, prefix = network.partition('/')
        if prefix == '32':
            try:
                addresses.append(normalize_ip(address))
            except InvalidIp:
                pass
    return addresses


def read_wg_dump(interface, run_command):
    """``parse_wg_dump`` of a live ``wg show INTERFACE dump``; ``run_command(argv)`` returns
    (rc, stdout, stderr) like AnsibleModule.run_command."""
    if not valid_interface(interface):
        raise WireGuardError('not an interface name: %r' % (interface,))
    try:
        rc, out, err = run_command(['wg', 'show', interface, 'dump'])
    except OSError as exc:
        raise WireGuardError('cannot run wg: %s' % exc) from None
    if rc != 0:
        # wg's own message (e.g. "Unable to access interface: No such device"); it never prints keys there
        raise WireGuardError('wg show %s dump failed (rc=%d): %s' % (interface, rc, err.strip()[:300]))
    if not out.isascii():
        raise WireGuardError('wg dump is not ASCII')
    return parse_wg_dump(out)
