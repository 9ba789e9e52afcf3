#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: presence_events
short_description: Read presence observations recorded by roamscan hooks, and the source's live table
version_added: 0.1.0
description:
  - Runs on a server whose presence source writes a roamscan spool (a DHCP server prepared by the
    M(roamscan.qualys.dhcp_hook) role today).
  - Returns the spool records (C(rs1) and C(rs2)) appended since the last acknowledged position as
    observations, and the source's live table (for a DHCP server its lease table, read from its own lease
    database) as observations too, so that an event the hook lost is recovered.
  - The generalisation of M(roamscan.qualys.lease_events), with the same spool, cursor and acknowledgement
    protocol; a cursor of one module acknowledges for the other. Delivery is at-least-once. Pass
    RV(cursor) back as O(ack) once the controller has stored the observations. Observation RV(observations[].id)
    values are stable, so a repeated delivery can be de-duplicated.
  - Two runs on the same spool at the same moment (two controllers, or this module beside
    M(roamscan.qualys.lease_events)) take turns on a lock in the spool directory; an acknowledgement only
    ever raises the acknowledged positions, so it never drops what another run has not read.
  - Corrupt or partial spool lines are counted in RV(skipped_lines) and skipped; they never fail the module.
  - Host names and aliases are supplied by the client; they are returned for the record, never to be trusted
    for linking or crediting.
  - Python standard library only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.spool
options:
  source:
    description:
      - The presence source whose live table is read (with O(include_table=true)).
      - C(receiver) is the spool of the M(roamscan.qualys.presence_receiver) role's receiver; it has no live table
        (RV(table) is empty) and its observations have C(authority) C(log).
    type: str
    required: true
    choices: [dhcpd, dnsmasq, kea, ocserv, openvpn, receiver, strongswan, wireguard]
  source_host:
    description:
      - The name given as the C(host) of each observation's RV(observations[].source).
      - Defaults to this server's host name.
    type: str
  table_path:
    description:
      - Where the source keeps its live table.
      - Defaults to C(/var/lib/kea/kea-leases4.csv) for Kea (its LFC files C(.completed), C(.2), C(.1) are read too),
        C(/var/lib/dhcp/dhcpd.leases) for dhcpd and C(/var/lib/misc/dnsmasq.leases) for dnsmasq.
      - "VPN servers (role M(roamscan.qualys.vpn_hook)): OpenVPN's status file (version 3, default
        C(/run/openvpn-server/status-roamscan.log); confirms nobody when OpenVPN has not rewritten it for 30 s), ocserv's
        C(occtl-socket-file) (default: occtl's own), charon's vici socket for strongSwan (default
        C(/var/run/charon.vici); established IKE_SAs with a virtual IP), or the WireGuard interface name (default C(wg0); peers with a
        handshake in the last 180 s). Each connected identity holding a tunnel IP is one C(seen) observation."
    type: path
    aliases: [lease_file]
  include_table:
    description:
      - Read the source's live table into RV(table).
    type: bool
    default: true
  include_observations:
    description:
      - Read the spool into RV(observations). When false the spool is not rotated and RV(cursor) is null;
        O(ack) is still applied.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is rotated, acknowledged or removed, and no lock file is created. Records still in
        C(current) are returned too, but the returned cursor only covers the already rotated segments, so
        acknowledging it never drops them.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Must run with privileges that can read the source's table and write the spool directory (usually C(become)).
  - Observation times come from the record's boot id and uptime (the hook has no clock without forking C(date));
    a record from a boot this spool never saw gets the modification time of its segment, an upper bound.
seealso:
  - module: roamscan.qualys.lease_events
  - name: roamscan.qualys.dhcp_hook role
    description: Installs the hook and creates the spool this module reads.
    link: https://example.invalid/roamscan/qualys/docs/dhcp_hook.md
'''

EXAMPLES = r'''
- name: Collect presence from the DHCP servers
  roamscan.qualys.presence_events:
    source: kea
    source_host: "{{ inventory_hostname }}"
  become: true
  register: presence

- name: Acknowledge what the controller stored
  roamscan.qualys.presence_events:
    source: kea
    ack: "{{ presence.cursor }}"
    include_table: false
    include_observations: false
  become: true
  when: presence.cursor is not none
'''

RETURN = r'''
observations:
  description:
    - Observations of the spool records in spool order since the last acknowledged position (at most 20000 per
      call; the cursor then stops there and the next call continues).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable, unique id (hash of the spool record).
      type: str
      sample: 80870f0c8371c815724d
    source:
      description: Who saw it.
      type: dict
      sample: {kind: kea, host: dhcp1}
      contains:
        kind:
          description: The software that saw it (C(kea), C(dhcpd), C(dnsmasq), C(openvpn), C(syslog), ...).
          type: str
        host:
          description: The server it runs on (O(source_host)).
          type: str
    event:
      description: C(start) (a lease or session began), C(seen) (renewed or still there), C(end).
      type: str
      sample: start
    why:
      description:
        - The source's own word for it (C(lease), C(renew), C(release), C(expire), C(decline), C(connect),
          C(seen), C(disconnect)).
        - dnsmasq reports a release and a decline alike (C(release)); an expiry is recognised by the lease end time.
      type: str
      sample: lease
    identity:
      description: The identity the source vouches for.
      type: dict
      sample: {kind: mac, value: '02:77:00:00:0a:01'}
      contains:
        kind:
          description: C(mac), C(vpn_cert), C(vpn_user), C(wg_key), C(ad_machine), C(ad_user) or C(imported).
          type: str
        value:
          description:
            - A MAC is normalized; any other value is as the source wrote it, or C(%) and the hex of its first
              128 bytes when it holds other characters than C([A-Za-z0-9._@$+=/:-]).
          type: str
    ip:
      description:
        - The IPv4 address the identity holds (the tunnel address for a VPN).
        - Null only in an C(end) of the receiver spool that named no IP (a Cisco ASA 113019 disconnect names the
          user, not the tunnel IP); the cycle ends the session that identity holds from that receiver.
      type: str
      sample: 10.77.0.100
    time:
      description: When the source reported it (ISO-8601 UTC).
      type: str
      sample: '2026-11-28T07:03:14Z'
    until:
      description: When the lease or session ends (ISO-8601 UTC), null if unknown.
      type: str
      sample: '2026-11-28T08:03:14Z'
    aliases:
      description: Other names the source reports for the client (e.g. C(hwaddr)); client-supplied, never trusted.
      type: dict
      sample: {}
    hostname:
      description: The client's host name if it is safe (C([A-Za-z0-9][A-Za-z0-9.-]{0,62})), else null. Client-supplied.
      type: str
      sample: laptop-17
    authority:
      description: C(table) for a source whose live table can be re-read (DHCP, VPN servers), C(log) for a log-only source.
      type: str
      sample: table
table:
  description:
    - The source's live table as observations, one per address, sorted by address; empty with O(include_table=false).
    - A lease that is active is C(seen) with C(why) C(active); a released, expired, declined or free one is
      C(end) with that state as its C(why). Rows that name no MAC (a Kea declined address) are left out.
      Their C(id) is null and their C(time) is the time of the read.
  returned: always
  type: list
  elements: dict
  sample:
    - id: null
      source: {kind: kea, host: dhcp1}
      event: seen
      why: active
      identity: {kind: mac, value: '02:77:00:00:0a:01'}
      ip: 10.77.0.100
      time: '2026-11-28T07:05:00Z'
      until: '2026-11-28T08:03:14Z'
      aliases: {}
      hostname: laptop-17
      authority: table
cursor:
  description: Opaque position to pass back as O(ack); null when the spool was not read.
  returned: always
  type: str
  sample: rs1:5c1f0e9a7d3b2c10:12.3480
skipped_lines:
  description:
    - Spool lines that were not valid records (never fatal).
  returned: always
  type: dict
  contains:
    count:
      description: Number of skipped lines.
      type: int
    reasons:
      description: Count per reason (C(truncated), C(bad_mac), C(bad_source), C(unknown_version), ...).
      type: dict
  sample: {count: 1, reasons: {truncated: 1}}
acked_segments:
  description:
    - Number of fully acknowledged spool segments removed (or that would be removed in check mode).
    - C(changed) is true when O(ack) moved the acknowledged position or removed a segment.
  returned: always
  type: int
  sample: 1
now:
  description: The server's clock at read time (ISO-8601 UTC).
  returned: always
  type: str
  sample: '2026-11-28T07:05:00Z'
source:
  description: O(source), so that the controller knows which live table to re-read and which spool to acknowledge.
  returned: always
  type: str
  sample: kea
table_path:
  description: O(table_path) as given (null for the source's default).
  returned: always
  type: str
  sample: null
spool_dir:
  description: O(spool_dir).
  returned: always
  type: str
  sample: /var/spool/roamscan
'''

import platform

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils._observation import from_record
from ansible_collections.roamscan.qualys.plugins.module_utils._presence_reader import (
    SPOOL_ARGUMENT_SPEC,
    PresenceReadError,
    read_presence,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._source_tables import TABLE_READERS, read_source_table


def main():
    module = AnsibleModule(
        argument_spec=dict(
            SPOOL_ARGUMENT_SPEC,
            source=dict(type='str', required=True, choices=sorted(TABLE_READERS)),
            source_host=dict(type='str'),
            table_path=dict(type='path', aliases=['lease_file']),
            include_table=dict(type='bool', default=True),
            include_observations=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    host = params['source_host'] or platform.node()

    def run_command(argv):
        return module.run_command(argv, environ_update={'LC_ALL': 'C'})

    def read_table(now):
        return read_source_table(params['source'], params['table_path'], now, host, run_command)

    def observations(records, table, skipped):
        return {'observations': [from_record(record, host) for record in records], 'table': table}

    try:
        result = read_presence(params['spool_dir'], params['ack'], module.check_mode, params['include_observations'],
                               read_table if params['include_table'] else None, observations)
    except PresenceReadError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    module.exit_json(source=params['source'], table_path=params['table_path'], spool_dir=params['spool_dir'], **result)


if __name__ == '__main__':
    main()
