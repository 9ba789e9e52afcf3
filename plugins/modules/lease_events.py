#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: lease_events
short_description: Read DHCP presence events recorded by the roamscan hook, and the lease table
version_added: 0.1.0
description:
  - Runs on a DHCP server prepared by the M(roamscan.qualys.dhcp_hook) role (Kea, ISC dhcpd or dnsmasq).
  - Returns the presence events the hook appended to the spool since the last acknowledged position,
    and the server's current lease table read from its own lease database, so that an event the hook
    lost (dnsmasq collapses queued events, a failing hook drops them) is recovered.
  - Delivery is at-least-once. Pass the returned RV(cursor) back as O(ack) once the controller has stored
    the events; acknowledged events are never returned again. Event RV(events[].id) values are stable, so
    a repeated delivery can be de-duplicated.
  - Each call moves the spool's C(current) file aside to a new numbered segment (an atomic rename); the
    hook keeps appending to a fresh C(current). The protocol is described in C(docs/dhcp_hook.md).
  - Two runs on the same spool at the same moment (two controllers, or this module beside
    M(roamscan.qualys.presence_events)) take turns on a lock in the spool directory; an acknowledgement only
    ever raises the acknowledged positions, so it never drops what another run has not read.
  - Corrupt or partial spool lines are counted in RV(skipped_lines) and skipped; they never fail the module.
  - M(roamscan.qualys.presence_events) reads the same spool as observations of any source (C(rs2) records).
  - Python standard library only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.spool
options:
  server:
    description:
      - The DHCP server whose lease database is read.
    type: str
    required: true
    choices: [kea, dhcpd, dnsmasq]
  lease_file:
    description:
      - The server's lease database.
      - Defaults to C(/var/lib/kea/kea-leases4.csv) for Kea (its LFC files C(.completed), C(.2), C(.1) are read too),
        C(/var/lib/dhcp/dhcpd.leases) for dhcpd and C(/var/lib/misc/dnsmasq.leases) for dnsmasq.
    type: path
  include_leases:
    description:
      - Read the lease table into RV(leases).
    type: bool
    default: true
  include_events:
    description:
      - Read the spool into RV(events). When false the spool is not rotated and RV(cursor) is null;
        O(ack) is still applied.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    details:
      - In check mode nothing is rotated, acknowledged or removed. Events still in C(current) are returned too,
        but the returned cursor only covers the already rotated segments, so acknowledging it never drops them.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Must run with privileges that can read the lease database and write the spool directory (usually C(become)).
  - Event times come from the record's boot id and uptime (the hook has no clock without forking C(date));
    a record from a boot this spool never saw gets the modification time of its segment, an upper bound.
seealso:
  - module: roamscan.qualys.presence_events
  - name: roamscan.qualys.dhcp_hook role
    description: Installs the hook and creates the spool this module reads.
    link: https://example.invalid/roamscan/qualys/docs/dhcp_hook.md
'''

EXAMPLES = r'''
- name: Collect presence from the DHCP servers
  roamscan.qualys.lease_events:
    server: kea
  become: true
  register: presence

- name: Acknowledge what the controller stored
  roamscan.qualys.lease_events:
    server: kea
    ack: "{{ presence.cursor }}"
    include_leases: false
    include_events: false
  become: true
  when: presence.cursor is not none

- name: dnsmasq with a non-default lease file and spool
  roamscan.qualys.lease_events:
    server: dnsmasq
    spool_dir: /srv/roamscan/spool
    lease_file: /srv/dnsmasq/dnsmasq.leases
'''

RETURN = r'''
events:
  description:
    - Presence events in spool order since the last acknowledged position (at most 20000 per call; the cursor
      then stops there and the next call continues).
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable, unique event id (hash of the spool record).
      type: str
      sample: 80870f0c8371c815724d
    time:
      description: When the server ran the hook (ISO-8601 UTC).
      type: str
      sample: '2026-11-28T07:03:14Z'
    server:
      description: Which server reported it.
      type: str
      sample: kea
    kind:
      description:
        - C(lease) new lease, C(renew) renewal of a held lease, C(release), C(expire), C(decline).
        - dnsmasq reports a release and a decline alike (C(release)); an expiry is recognised by the lease end time.
      type: str
      sample: lease
    mac:
      description: Normalized MAC address.
      type: str
      sample: '02:77:00:00:0a:01'
    ip:
      description: IPv4 address.
      type: str
      sample: 10.77.0.100
    hostname:
      description: The client's host name if it is safe (C([A-Za-z0-9][A-Za-z0-9.-]{0,62})), else null.
      type: str
      sample: laptop-17
    lease_expires:
      description: When the lease ends (ISO-8601 UTC), null if unknown.
      type: str
      sample: '2026-11-28T08:03:14Z'
leases:
  description: The current lease table, latest state per IP, sorted by IP. Empty when O(include_leases=false).
  returned: always
  type: list
  elements: dict
  contains:
    mac:
      description: Normalized MAC, null for a Kea declined address.
      type: str
    ip:
      description: IPv4 address.
      type: str
    hostname:
      description: Safe host name or null.
      type: str
    expires:
      description: Lease end (ISO-8601 UTC) or null (infinite).
      type: str
    state:
      description: One of C(active), C(released), C(expired), C(declined), C(free).
      type: str
  sample:
    - {mac: '02:77:00:00:0a:01', ip: 10.77.0.100, hostname: laptop-17, expires: '2026-11-28T08:03:14Z', state: active}
cursor:
  description: Opaque position to pass back as O(ack); null when no events were read.
  returned: always
  type: str
  sample: rs1:5c1f0e9a7d3b2c10:12.3480
skipped_lines:
  description:
    - Spool lines that were not valid records (never fatal).
    - Not called C(skipped), which Ansible reserves for skipped tasks.
  returned: always
  type: dict
  contains:
    count:
      description: Number of skipped lines.
      type: int
    reasons:
      description:
        - Count per reason (C(truncated), C(bad_mac), C(unknown_version), ...).
        - C(not_a_lease_event) counts valid records of other sources (an C(rs2) VPN or log record in this spool);
          M(roamscan.qualys.presence_events) returns those.
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
'''

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_tables import read_lease_table
from ansible_collections.roamscan.qualys.plugins.module_utils._presence_reader import (
    SPOOL_ARGUMENT_SPEC,
    PresenceReadError,
    read_presence,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import SERVERS

# A valid record that is no DHCP lease event (an rs2 record of another source) is counted here.
NOT_A_LEASE_EVENT = 'not_a_lease_event'


def lease_events_result(records, leases, skipped):
    """events (DHCP lease records as lease_events has always returned them) and leases."""
    events = []
    for record in records:
        if record.is_lease_event():
            events.append(record.as_dict())
        else:
            skipped[NOT_A_LEASE_EVENT] = skipped.get(NOT_A_LEASE_EVENT, 0) + 1
    return {'events': events, 'leases': leases}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            SPOOL_ARGUMENT_SPEC,
            server=dict(type='str', required=True, choices=list(SERVERS)),
            lease_file=dict(type='path'),
            include_leases=dict(type='bool', default=True),
            include_events=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def read_leases(now):
        return read_lease_table(params['server'], params['lease_file'], now)

    try:
        result = read_presence(params['spool_dir'], params['ack'], module.check_mode, params['include_events'],
                               read_leases if params['include_leases'] else None, lease_events_result)
    except PresenceReadError as exc:
        module.fail_json(msg=str(exc), **exc.result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
