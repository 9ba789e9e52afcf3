# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The allow-list every active probe checks before it sends a single packet.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (the probes run on probe hosts, routers and DHCP servers).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip

# More addresses than this in one call is a configuration mistake (a /16 typed for a /24), not a sweep.
MAX_ADDRESSES = 4096


class ProbeRefused(ValueError):
    """A probe was asked to send to an address it may not send to; nothing was sent."""


def parse_networks(values, what):
    """IPv4 networks of a list of CIDR strings; ProbeRefused for an empty list or a bad entry."""
    if not values:
        raise ProbeRefused('%s is empty: an active probe sends nothing without an explicit allow-list' % what)
    networks = []
    for value in values:
        try:
            networks.append(ipaddress.IPv4Network(str(value).strip(), strict=False))
        except ValueError:
            raise ProbeRefused('%s: not an IPv4 network: %r' % (what, str(value)[:64])) from None
    return networks


def refuse_outside(ips, allowed, what='target'):
    """Raise ProbeRefused naming every ``ips`` entry outside the ``allowed`` networks (or not an IPv4 host)."""
    outside = []
    for ip in ips:
        try:
            address = ipaddress.IPv4Address(normalize_ip(ip))
        except InvalidIp:
            outside.append(str(ip)[:64])
            continue
        if not any(address in network for network in allowed):
            outside.append(str(address))
    if outside:
        raise ProbeRefused('%s outside the allow-list (%s), nothing sent: %s%s'
                           % (what, ', '.join(str(n) for n in allowed), ', '.join(outside[:10]),
                              ' and %d more' % (len(outside) - 10) if len(outside) > 10 else ''))


def sweep_addresses(subnets, allowed):
    """Every host address of ``subnets`` (CIDR strings), each subnet wholly inside ``allowed``."""
    networks = parse_networks(subnets, 'subnets')
    for network in networks:
        if not any(network.subnet_of(allow) for allow in allowed):
            raise ProbeRefused('subnet %s is not inside the allow-list (%s), nothing sent'
                               % (network, ', '.join(str(n) for n in allowed)))
    total = sum(max(network.num_addresses - 2, 1) for network in networks)
    if total > MAX_ADDRESSES:
        raise ProbeRefused('subnets hold %d addresses, more than %d: nothing sent' % (total, MAX_ADDRESSES))
    seen, found = set(), []
    for network in networks:
        for address in (network.hosts() if network.num_addresses > 2 else network):
            if address not in seen:
                seen.add(address)
                found.append(str(address))
    return found
