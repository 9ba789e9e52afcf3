# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""MAC and IPv4 normalisation, and the MAC <-> inventory host name mapping.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: modules that run on DHCP servers import it, and so does the Qualys code,
without pulling in spool or lease-file code.
"""

from __future__ import annotations

import re


class InvalidAddress(ValueError):
    """Base class for a MAC or IP address that cannot be used."""


class InvalidMac(InvalidAddress):
    """A MAC address that cannot be normalised."""


class InvalidIp(InvalidAddress):
    """An IPv4 address that is not a valid unicast host address."""


_MAC_PART = re.compile(r'^[0-9a-fA-F]{1,2}$')
_MAC_BARE = re.compile(r'^[0-9a-fA-F]{12}$')
# already normalised (every stored record's): nothing to do
_MAC_NORMAL = re.compile(r'^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$')
_DOTTED_QUAD = re.compile(r'^[0-9]{1,3}(\.[0-9]{1,3}){3}$')
MAC_HOST_PATTERN = re.compile(r'^mac-([0-9a-f]{12})$')


def normalize_mac(value):
    """Return a MAC as lower-case, colon-separated, zero-padded octets.

    Accepts ISC dhcpd's unpadded form (``2:77:0:0:a:1``), dashes (Windows),
    Cisco dotted (``0277.0000.0a01``) and bare hex.
    """
    if not isinstance(value, str):
        raise InvalidMac('MAC address must be a string, got %s' % type(value).__name__)
    if _MAC_NORMAL.fullmatch(value):
        return value
    text = value.strip()
    if _MAC_BARE.match(text.replace('.', '')) and text.count('.') in (0, 2):
        bare = text.replace('.', '')
        parts = [bare[i:i + 2] for i in range(0, 12, 2)]
    else:
        parts = re.split(r'[:-]', text)
        if len(parts) != 6 or not all(_MAC_PART.match(p) for p in parts):
            raise InvalidMac('not a MAC address: %r' % value[:64])
    return ':'.join(p.zfill(2).lower() for p in parts)


def normalize_ip(value):
    """Return a dotted-quad IPv4 host address, or raise InvalidIp."""
    if not isinstance(value, str):
        raise InvalidIp('IP address must be a string, got %s' % type(value).__name__)
    text = value.strip()
    if not _DOTTED_QUAD.match(text):
        raise InvalidIp('not an IPv4 address: %r' % value[:64])
    # ipaddress.IPv4Address's rules, without its cost (a store read checks every record's addresses)
    octets = text.split('.')
    for octet in octets:
        if (len(octet) > 1 and octet[0] == '0') or int(octet) > 255:
            raise InvalidIp('not an IPv4 address: %r' % value[:64])
    if 224 <= int(octets[0]) <= 239 or text in ('0.0.0.0', '255.255.255.255'):
        raise InvalidIp('not a unicast host address: %s' % text)
    return text


def mac_host_name(mac):
    """Inventory host name of the laptop with this MAC (``mac-027700000a01``)."""
    return 'mac-' + normalize_mac(mac).replace(':', '')


def mac_from_host(host):
    """The MAC of a laptop inventory host name, or None if ``host`` is not one."""
    match = MAC_HOST_PATTERN.match(host)
    if not match:
        return None
    bare = match.group(1)
    return '%s:%s:%s:%s:%s:%s' % (bare[0:2], bare[2:4], bare[4:6], bare[6:8], bare[8:10], bare[10:12])
