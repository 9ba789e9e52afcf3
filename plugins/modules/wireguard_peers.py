#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: wireguard_peers
short_description: Report WireGuard peers with a recent handshake as presence observations
version_added: 0.1.0
description:
  - Runs C(wg show INTERFACE dump) on a WireGuard host and turns every peer whose latest handshake is younger than
    O(max_handshake_age) into one C(seen) observation per allowed IPv4 /32 address, with the peer's public key as the
    identity (kind C(wg_key)).
  - WireGuard has no connect or disconnect event and no hook; handshakes are traffic-driven (a live peer
    re-handshakes at least every 120 s while it sends, and keys expire after 180 s). So a recent handshake proves
    presence, and an old one proves nothing; the module never reports a peer as gone.
  - The interface's private key (first dump line) and the peers' preshared keys are dropped while parsing; they are
    never returned, logged or quoted in an error.
  - Works with kernel WireGuard and with userspace implementations such as wireguard-go (C(wg) talks to both).
  - Python standard library only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  interface:
    description:
      - The WireGuard interface, for example C(wg0).
    type: str
    required: true
  max_handshake_age:
    description:
      - Seconds; a peer whose latest handshake is older is not reported.
      - The default is WireGuard's REJECT_AFTER_TIME; a smaller value makes "present" stricter.
    type: int
    default: 180
  source_host:
    description:
      - The name given as the C(host) of each observation's RV(observations[].source).
      - Defaults to this server's host name.
    type: str
attributes:
  check_mode:
    support: full
    details:
      - The module only reads; check mode returns the same result.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Needs the C(wg) tool (Debian package wireguard-tools) and the privileges to query the interface (root).
  - An allowed-ips entry wider than /32 (a routed network behind the peer) is not one device's address and is
    not reported.
seealso:
  - module: roamscan.qualys.presence_events
'''

EXAMPLES = r'''
- name: Which WireGuard peers are there now
  roamscan.qualys.wireguard_peers:
    interface: wg0
    source_host: "{{ inventory_hostname }}"
  become: true
  register: wireguard
'''

RETURN = r'''
observations:
  description: One C(seen) observation per allowed /32 address of each peer with a recent handshake, sorted by address.
  returned: always
  type: list
  elements: dict
  sample:
    - id: null
      source: {kind: wireguard, host: vpn1}
      event: seen
      why: handshake
      identity: {kind: wg_key, value: '%2b...'}
      ip: 10.90.0.2
      time: '2026-12-01T09:14:23Z'
      until: '2026-12-01T09:17:23Z'
      aliases: {}
      hostname: null
      authority: table
  contains:
    source:
      description: C(kind) C(wireguard) and C(host) (O(source_host)).
      type: dict
    identity:
      description:
        - C(kind) C(wg_key) and C(value) the peer's public key, as-is when it matches C([A-Za-z0-9][A-Za-z0-9._@$+=/:-]*),
          else C(%) and the hex of its bytes (a key starting with C(+) or C(/)), exactly as a spool record would carry it.
      type: dict
    ip:
      description: The peer's allowed /32 address.
      type: str
    time:
      description: The latest handshake (ISO-8601 UTC).
      type: str
    until:
      description: When the peer's session keys expire (latest handshake + 180 s, WireGuard's REJECT_AFTER_TIME).
      type: str
source:
  description: V(wireguard), the presence source kind, as M(roamscan.qualys.presence_events) names it.
  returned: always
  type: str
  sample: wireguard
table_path:
  description: O(interface), which M(roamscan.qualys.presence_events) re-reads as the source's live table.
  returned: always
  type: str
  sample: wg0
now:
  description: The host's clock at read time (ISO-8601 UTC).
  returned: always
  type: str
  sample: '2026-12-01T09:15:00Z'
peers:
  description: How many peers the interface has.
  returned: always
  type: int
  sample: 3
peers_without_recent_handshake:
  description: Peers not reported (no handshake yet, or older than O(max_handshake_age)); unknown, not gone.
  returned: always
  type: int
  sample: 1
'''

import platform  # noqa: E402
import time  # noqa: E402

from ansible.module_utils.basic import AnsibleModule  # noqa: E402

from ansible_collections.roamscan.qualys.plugins.module_utils._session_table_wireguard import (  # noqa: E402
    WireGuardError,
    read_wg_dump,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._session_tables import (  # noqa: E402
    recent_handshake,
    wireguard_observations,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time  # noqa: E402


def main():
    module = AnsibleModule(
        argument_spec=dict(
            interface=dict(type='str', required=True),
            max_handshake_age=dict(type='int', default=180),
            source_host=dict(type='str'),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if params['max_handshake_age'] < 1:
        module.fail_json(msg='max_handshake_age must be at least 1 second')
    host = params['source_host'] or platform.node()
    now = time.time()
    try:
        peers = read_wg_dump(params['interface'], lambda argv: module.run_command(argv, environ_update={'LC_ALL': 'C'}))
    except WireGuardError as exc:
        module.fail_json(msg=str(exc))
    observations = wireguard_observations(peers, now, host, params['max_handshake_age'])
    module.exit_json(changed=False, source='wireguard', table_path=params['interface'], now=iso_time(now),
                     observations=sorted(observations, key=lambda o: tuple(int(p) for p in o['ip'].split('.'))),
                     peers=len(peers),
                     peers_without_recent_handshake=sum(1 for p in peers if not recent_handshake(p, now, params['max_handshake_age'])))


if __name__ == '__main__':
    main()
