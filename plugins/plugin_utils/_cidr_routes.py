# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Settings that map IPv4 CIDRs to something (a probe host, a scanner): parsing and the lookup.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
The most specific CIDR that contains an address wins.
"""

from __future__ import annotations

import ipaddress


def parse_cidr_map(routes, variable, error, value_of):
    """``[(network, value)]`` most specific first, from ``{cidr: raw}``.

    ``value_of(network, raw)`` returns the parsed value or raises ``error`` (a ValueError class),
    which is also raised, naming ``variable``, for a mapping that is none or a key that is no IPv4 network.
    """
    if routes is None:
        return []
    if not isinstance(routes, dict):
        raise error('%s must map CIDRs to %s, got %s' % (variable, error.WHAT, type(routes).__name__))
    parsed = []
    for cidr, raw in routes.items():
        try:
            network = ipaddress.IPv4Network(str(cidr), strict=False)
        except ValueError:
            raise error('%s: not an IPv4 network: %r' % (variable, str(cidr)[:64])) from None
        parsed.append((network, value_of(network, raw)))
    parsed.sort(key=lambda item: -item[0].prefixlen)
    return parsed


def route_of(ip, routes):
    """The ``(network, value)`` of ``routes`` (parse_cidr_map) that holds ``ip``, or None."""
    address = ipaddress.IPv4Address(ip)
    return next(((network, value) for network, value in routes if address in network), None)
