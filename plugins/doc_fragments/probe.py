# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # Options shared by the active probes arp_sweep and liveness_probe (PROBE_ARGUMENT_SPEC).
    DOCUMENTATION = r'''
options:
  interface:
    description:
      - The interface the probe sends on (the laptops' segment). Every socket is bound to it, so no packet leaves
        by another interface.
    type: str
    required: true
  allow:
    description:
      - The networks (CIDR) the probe may send to. Required and not empty; a target or subnet outside it fails the
        module before a single packet is sent.
    type: list
    elements: str
    required: true
  rate:
    description:
      - At most this many packets per second.
    type: int
    default: 1000
  retries:
    description:
      - How many more times an address that did not answer is asked (each pass is followed by O(wait)).
    type: int
    default: 1
  wait:
    description:
      - Seconds to listen for answers after each pass.
    type: float
    default: 0.4
notes:
  - Sends ARP frames and ICMP from raw sockets, which need C(CAP_NET_RAW); run it as root (C(become)) on the
    probe host.
'''
