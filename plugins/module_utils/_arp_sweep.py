# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An ARP sweep of allow-listed subnets on the probe host's own segment, as observations.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on probe hosts).
"""

from __future__ import annotations

import ipaddress

from ansible_collections.roamscan.qualys.plugins.module_utils._allow_list import ProbeRefused, sweep_addresses
from ansible_collections.roamscan.qualys.plugins.module_utils._observation import observation
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time
from ansible_collections.roamscan.qualys.plugins.module_utils import _raw_probe

SOURCE_KIND = 'probe'


def sweep(interface, subnets, allowed, rate, retries, wait, now, host, rounds=_raw_probe):
    """ARP every host address of ``subnets``; ``(observations, addresses asked, packets sent)``.

    Each subnet must lie inside ``allowed`` and inside the interface's own subnet (ARP does not
    cross a router), or nothing is sent. Two MACs answering for one IP give two observations.
    """
    addresses = sweep_addresses(subnets, allowed)
    dummy, own_ip, segment = rounds.interface_info(interface)
    if segment is not None:
        foreign = [ip for ip in addresses if not _inside(ip, segment)]
        if foreign:
            raise ProbeRefused('%s is not on the segment of %s (%s), nothing sent' % (foreign[0], interface, segment))
    answers, sent = rounds.arp_round(interface, addresses, rate, retries, wait)
    found = [observation(SOURCE_KIND, host, 'seen', 'arp_reply', 'mac', mac, ip, iso_time(now))
             for ip in addresses for mac in answers.get(ip, [])]
    return found, len(addresses), sent


def _inside(ip, network):
    return ipaddress.IPv4Address(ip) in network
