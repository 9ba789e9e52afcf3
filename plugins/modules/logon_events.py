#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: logon_events
short_description: Read domain-controller logons as presence observations
version_added: 0.2.0
description:
  - Runs on a Samba AD DC prepared by the M(roamscan.qualys.dc_audit) role, or on the Linux collector
    that receives Windows DC Security events as JSON lines (NXLog or Winlogbeat, see C(docs/dc_audit.md)).
  - Returns one observation per successful logon since the last acknowledged position, with the account as
    the identity (C(ad_machine) for accounts ending in C($), else C(ad_user)) and the client's IPv4 address.
    Failed authentications never count.
  - "Samba: JSON authentication audit records (C(type: Authentication), event 4624, status C(NT_STATUS_OK)),
    Kerberos and NTLM alike. Windows: events 4768 (TGT), 4769 (service ticket) with Status C(0x0) and 4624."
  - Addresses of this host, loopback, link-local and O(exclude_addresses) (the DCs themselves when read on
    a collector, the VPN concentrator's outside address, jump hosts) are dropped and counted in RV(ignored).
  - Delivery is at-least-once. Pass the returned RV(cursor) back as O(ack) once the controller has stored the
    observations; acknowledged lines are never returned again. RV(observations[].id) is stable.
  - The logs are never written. Rename rotation (logrotate C(create), Samba's C(max log size)) and
    copytruncate are both followed; see C(docs/dc_audit.md) for the guarantees.
  - Malformed, oversized or torn lines are counted in RV(skipped_lines) and skipped; they never fail the module.
  - Python standard library only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  paths:
    description:
      - The JSON-lines log files to read (their rotated siblings C(NAME.1), C(NAME.old), C(NAME-DATE) next to them
        are found by themselves).
    type: list
    elements: path
    default: [/var/log/samba/roamscan-auth.json]
  state_file:
    description:
      - Where the acknowledged positions are kept (written atomically). Its directory must exist; the
        M(roamscan.qualys.dc_audit) role creates it.
    type: path
    default: /var/lib/roamscan/logon_events.json
  ack:
    description:
      - A cursor returned by an earlier run with the same O(state_file). Everything up to it is acknowledged
        before reading.
      - A malformed cursor or one of another state file fails the module and changes nothing.
    type: str
  include_events:
    description:
      - Read the logs into RV(observations). When false only O(ack) is applied and RV(cursor) is null.
    type: bool
    default: true
  exclude_addresses:
    description:
      - IP addresses or CIDRs whose logons are no laptop (DCs, VPN concentrator outside address, jump hosts, NAT).
    type: list
    elements: str
    default: []
  exclude_local_addresses:
    description:
      - Also drop this host's own addresses (read from C(/proc)); right on a DC, harmless on a collector.
    type: bool
    default: true
  source_host:
    description:
      - The name given as the C(host) of a Samba observation's RV(observations[].source) (Windows events name their DC).
      - Defaults to this host's name.
    type: str
  settle_seconds:
    description:
      - A rotated file modified less than this many seconds ago may still be written by the DC; the reader stays
        in it until then, and only afterwards counts a last line without newline as torn.
    type: int
    default: 30
  max_events:
    description:
      - At most this many log lines per run; the cursor then stops there and the next run continues.
    type: int
    default: 20000
attributes:
  check_mode:
    support: full
    details:
      - In check mode the state file is neither created nor changed; observations are returned as usual, and the
        cursor (null before the first real run) may be acknowledged later.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Must run with privileges that can read the logs and write O(state_file) (usually C(become)).
  - Samba logs only the authentications the DC itself handled, so read every DC.
  - Client-reported fields (C(workstation)) are recorded hex-safe in RV(observations[].detail) and are never an identity.
seealso:
  - name: roamscan.qualys.dc_audit role
    description: Enables the Samba JSON authentication audit file this module reads.
    link: https://example.invalid/roamscan/qualys/docs/dc_audit.md
  - module: roamscan.qualys.lease_events
'''

EXAMPLES = r'''
- name: Collect logons from the Samba DCs
  roamscan.qualys.logon_events:
    exclude_addresses: [192.0.2.10, 10.20.0.0/29]
  become: true
  register: logons

- name: Acknowledge what the controller stored
  roamscan.qualys.logon_events:
    ack: "{{ logons.cursor }}"
    include_events: false
  become: true
  when: logons.cursor is not none

- name: Windows DC events that NXLog writes on a Linux collector
  roamscan.qualys.logon_events:
    paths: [/var/log/roamscan/windows-dc.json]
    state_file: /var/lib/roamscan/windows-logons.json
    exclude_addresses: [10.1.0.10, 10.1.0.11]
'''

RETURN = r'''
observations:
  description: Successful logons in log order since the last acknowledged position.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable id (hash of the log line).
      type: str
      sample: 5406a110f517edd9ab51
    source:
      description: C(kind) C(samba) or C(windows); C(host) the DC that logged it (O(source_host) for Samba).
      type: dict
      sample: {kind: samba, host: dc1}
    event:
      description: Always C(seen); a logon confirms presence, it starts or ends nothing.
      type: str
      sample: seen
    why:
      description: C(tgt) (Kerberos AS, Windows 4768), C(service_ticket) (4769) or C(logon) (4624, Samba NTLM/SMB/LDAP).
      type: str
      sample: tgt
    identity:
      description:
        - "C(kind): C(ad_machine) (account ends in C($), upper-case) or C(ad_user) (lower-case)."
        - "C(value): the account without domain or realm; C(%) + hex of its UTF-8 bytes unless it matches
          C([A-Za-z0-9][A-Za-z0-9._@$+=/:-]{0,127})."
      type: dict
      sample: {kind: ad_machine, value: LAPTOP01$}
    ip:
      description: The client's IPv4 address (IPv4-mapped IPv6 is converted).
      type: str
      sample: 10.77.0.101
    time:
      description: When the DC logged it (ISO-8601 UTC).
      type: str
      sample: '2026-12-01T09:15:06Z'
    until:
      description: Always null; a logon bounds no holding.
      type: str
      sample: null
    aliases:
      description: Always empty for logons.
      type: dict
      sample: {}
    hostname:
      description: The workstation name an NTLM client sent, if it is a safe host name, else null. Client-supplied, never trusted.
      type: str
      sample: null
    authority:
      description: Always C(log); a DC logon proves the IP was used then, it holds nothing.
      type: str
      sample: log
    detail:
      description:
        - C(event_id), C(domain), C(service), C(workstation) (client-supplied, C(%)+hex unless safe), C(dc) (Windows
          computer name). Not part of the common observation shape.
      type: dict
      sample: {event_id: 4624, domain: ROAM, service: Kerberos KDC, workstation: null, dc: null}
cursor:
  description: Opaque position to pass back as O(ack); null before the state file exists.
  returned: always
  type: str
  sample: lc1:5c1f0e9a7d3b2c10:1a2b3c4d.2049.131075.3480.256.0f1e2d3c4b5a6978.1795849200
skipped_lines:
  description:
    - Lines that are no valid record (C(bad_json), C(not_json), C(too_long), C(truncated), C(bad_address),
      C(bad_time), C(bad_account), C(unknown_shape), ...). Never fatal.
  returned: always
  type: dict
  sample: {count: 1, reasons: {truncated: 1}}
ignored:
  description:
    - Valid records that are no presence (C(failed), C(other_event), C(infrastructure), C(loopback),
      C(link_local), C(no_address), C(anonymous), C(ipv6), C(debug_header)).
  returned: always
  type: dict
  sample: {count: 2, reasons: {failed: 1, infrastructure: 1}}
rotation_gaps:
  description: Files whose acknowledged position was rotated away unread (compressed too early); their unread lines are lost.
  returned: always
  type: list
  elements: str
  sample: []
now:
  description: This host's clock at read time (ISO-8601 UTC).
  returned: always
  type: str
  sample: '2026-12-01T09:16:00Z'
'''

import platform
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils._log_cursor import CursorError, log_argument_spec, read_observations
from ansible_collections.roamscan.qualys.plugins.module_utils._logon_records import (
    AddressFilter,
    ExclusionError,
    Ignored,
    SkippedLine,
    local_addresses,
    parse_logon_line,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time


def collect(params, check_mode, now):
    """The logon_events protocol: ack, then read. Returns the result fields."""
    own = local_addresses() if params['exclude_local_addresses'] else []
    address_filter = AddressFilter(params['exclude_addresses'], own)
    host = params['source_host'] or platform.node()
    return read_observations(params, check_mode, now, lambda line: parse_logon_line(line, address_filter, host),
                             SkippedLine, Ignored)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            log_argument_spec(['/var/log/samba/roamscan-auth.json'], '/var/lib/roamscan/logon_events.json'),
            exclude_addresses=dict(type='list', elements='str', default=[]),
            exclude_local_addresses=dict(type='bool', default=True),
        ),
        supports_check_mode=True,
    )
    now = time.time()
    try:
        result = collect(module.params, module.check_mode, int(now))
    except (CursorError, ExclusionError) as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg='logon_events: %s' % exc)
    module.exit_json(now=iso_time(now), **result)


if __name__ == '__main__':
    main()
