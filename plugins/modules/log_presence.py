#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
---
module: log_presence
short_description: Read VPN connect and disconnect lines from syslog files as presence observations
version_added: 0.2.0
description:
  - Runs on the log host where rsyslog or syslog-ng writes the VPN concentrators' syslog to files.
  - "Parses the session lines of Cisco ASA / AnyConnect (722051 and 751025: user and assigned IPv4 address;
    113019: disconnect), Palo Alto GlobalProtect (CSV: C(gateway-connected), C(gateway-setup-ipsec),
    C(gateway-setup-ssl), C(gateway-hip-check), C(gateway-tunnel-latency), C(gateway-logout)), FortiGate SSL-VPN
    (C(tunnel-up) / C(tunnel-down) with C(tunnelip)) and ocserv (disconnect) into observations with the login
    name as a C(vpn_user) identity and the tunnel IP."
  - "Log-only presence has no live table to re-read. The rule: a C(start) or C(seen) observation holds its IP
    from its time until a later C(end) of the same identity, and at most O(max_session) seconds
    (RV(observations[].until)). Every observation has C(authority: log), so credit based on it can be flagged."
  - Lines that start a session without naming the tunnel IP (ASA 113039, ocserv C(user logged in), FortiGate
    C(ssl-web) portal logins) are counted in RV(ignored) as C(no_tunnel_ip). A disconnect that names no tunnel IP
    (ASA 113019, ocserv) has RV(observations[].ip) null and ends every session of that identity.
  - Delivery is at-least-once, with the same cursor protocol, rotation handling (rename and copytruncate) and
    torn-line handling as M(roamscan.qualys.logon_events); pass RV(cursor) back as O(ack).
  - Python standard library only.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
options:
  paths:
    description: The syslog files to read (rotated siblings C(NAME.1), C(NAME-DATE) are found by themselves).
    type: list
    elements: path
    default: [/var/log/roamscan/vpn.log]
  state_file:
    description: Where the acknowledged positions are kept (written atomically). Its directory must exist.
    type: path
    default: /var/lib/roamscan/log_presence.json
  ack:
    description: A cursor returned by an earlier run with the same O(state_file); acknowledged before reading.
    type: str
  include_events:
    description: Read the logs into RV(observations). When false only O(ack) is applied and RV(cursor) is null.
    type: bool
    default: true
  parsers:
    description: Which concentrators' lines to turn into observations; lines of the others are counted as C(other_parser).
    type: list
    elements: str
    choices: [cisco_asa, globalprotect, fortigate, ocserv]
    default: [cisco_asa, globalprotect, fortigate, ocserv]
  max_session:
    description:
      - Seconds a C(start) or C(seen) observation holds its IP when no disconnect follows (RV(observations[].until)).
        Set it to the concentrator's maximum session length.
    type: int
    default: 43200
  source_host:
    description: The C(host) of RV(observations[].source). Defaults to this host's name.
    type: str
  settle_seconds:
    description: A rotated file modified less than this many seconds ago may still be written; see M(roamscan.qualys.logon_events).
    type: int
    default: 30
  max_events:
    description: At most this many log lines per run; the cursor then stops there and the next run continues.
    type: int
    default: 20000
attributes:
  check_mode:
    support: full
    details:
      - In check mode the state file is neither created nor changed; observations are returned as usual.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Timestamps without a time zone (BSD syslog) are read as UTC; a line without a readable timestamp gets the read time.
  - User names are what the user typed at login; they identify a session, never a device.
seealso:
  - module: roamscan.qualys.logon_events
  - module: roamscan.qualys.presence_events
'''

EXAMPLES = r'''
- name: Collect VPN sessions from the log host
  roamscan.qualys.log_presence:
    paths: [/var/log/remote/asa.log, /var/log/remote/globalprotect.log]
    max_session: 86400
  become: true
  register: vpn_log

- name: Acknowledge what the controller stored
  roamscan.qualys.log_presence:
    paths: [/var/log/remote/asa.log, /var/log/remote/globalprotect.log]
    ack: "{{ vpn_log.cursor }}"
    include_events: false
  become: true
  when: vpn_log.cursor is not none
'''

RETURN = r'''
observations:
  description: VPN session events in log order since the last acknowledged position.
  returned: always
  type: list
  elements: dict
  contains:
    id:
      description: Stable id (hash of the log line).
      type: str
      sample: 0c9e5d1f2a3b4c5d6e7f
    source:
      description: C(kind) is always C(syslog); C(host) is O(source_host).
      type: dict
      sample: {kind: syslog, host: loghost1}
    event:
      description: C(start) (connect), C(seen) (GlobalProtect HIP check or latency report) or C(end) (disconnect).
      type: str
      sample: start
    why:
      description: C(connect), C(seen) or C(disconnect).
      type: str
      sample: connect
    identity:
      description: "C(kind: vpn_user); C(value) the login name without C(DOMAIN\\), C(%)+hex unless safe."
      type: dict
      sample: {kind: vpn_user, value: alice}
    ip:
      description: The tunnel IPv4 address; null for a disconnect that names none.
      type: str
      sample: 10.10.20.1
    time:
      description: The line's timestamp (ISO-8601 UTC), or the read time.
      type: str
      sample: '2026-12-01T09:15:06Z'
    until:
      description: For C(start) and C(seen), O(max_session) after RV(observations[].time); null for C(end).
      type: str
      sample: '2026-12-01T21:15:06Z'
    aliases:
      description: Concentrator-reported details (GlobalProtect C(machine), C(host_id), C(serial); ASA C(group); FortiGate C(tunnel_id)). Never trusted.
      type: dict
      sample: {group: sslvpn}
    hostname:
      description: Always null.
      type: str
      sample: null
    authority:
      description: Always C(log).
      type: str
      sample: log
    detail:
      description: C(parser) and C(message_id) (ASA message number, GlobalProtect event id, FortiGate logid).
      type: dict
      sample: {parser: cisco_asa, message_id: '722051'}
cursor:
  description: Opaque position to pass back as O(ack); null before the state file exists.
  returned: always
  type: str
  sample: lc1:5c1f0e9a7d3b2c10:1a2b3c4d.2049.131075.3480.256.0f1e2d3c4b5a6978.1795849200
skipped_lines:
  description: Lines that are no valid record (C(too_long), C(truncated), C(bad_cisco_asa), C(bad_globalprotect), C(not_utf8)).
  returned: always
  type: dict
  sample: {count: 1, reasons: {truncated: 1}}
ignored:
  description: Valid lines that are no session event with a tunnel IP (C(other_message), C(no_tunnel_ip), C(failed), C(no_user), C(other_parser)).
  returned: always
  type: dict
  sample: {count: 2, reasons: {other_message: 2}}
rotation_gaps:
  description: Files whose acknowledged position was rotated away unread; their unread lines are lost.
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

import hashlib
import platform
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils._log_cursor import CursorError, log_argument_spec, read_observations
from ansible_collections.roamscan.qualys.plugins.module_utils._logon_records import Ignored, SkippedLine
from ansible_collections.roamscan.qualys.plugins.module_utils._observation import observation
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import KIND_EVENTS
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time
from ansible_collections.roamscan.qualys.plugins.module_utils._vpn_log_lines import PARSERS, parse_vpn_line


def vpn_observation(event, line_id, host, now, max_session):
    """The observation of a VpnEvent: log authority, held for at most ``max_session`` seconds."""
    moment = event.time if event.time is not None else now
    kind = KIND_EVENTS[event.kind]
    result = observation('syslog', host, kind, event.kind, 'vpn_user', event.user, event.ip, iso_time(moment),
                         until=None if kind == 'end' else iso_time(moment + max_session), aliases=event.aliases,
                         record_id=line_id)
    result['detail'] = {'parser': event.parser, 'message_id': event.message_id}
    return result


def collect(params, check_mode, now):
    """The log_presence protocol: ack, then read. Returns the result fields."""
    host = params['source_host'] or platform.node()
    wanted = frozenset(params['parsers'])

    def parse(line):
        try:
            text = line.decode('utf-8')
        except UnicodeDecodeError:
            raise SkippedLine('not_utf8') from None
        event = parse_vpn_line(text, now)
        if event.parser not in wanted:
            raise Ignored('other_parser')
        return vpn_observation(event, hashlib.sha256(line).hexdigest()[:20], host, now, params['max_session'])

    return read_observations(params, check_mode, now, parse, SkippedLine, Ignored)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            log_argument_spec(['/var/log/roamscan/vpn.log'], '/var/lib/roamscan/log_presence.json'),
            parsers=dict(type='list', elements='str', choices=list(PARSERS), default=list(PARSERS)),
            max_session=dict(type='int', default=43200),
        ),
        supports_check_mode=True,
    )
    if module.params['max_session'] <= 0:
        module.fail_json(msg='max_session must be a positive number of seconds')
    now = time.time()
    try:
        result = collect(module.params, module.check_mode, int(now))
    except CursorError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg='log_presence: %s' % exc)
    module.exit_json(now=iso_time(now), **result)


if __name__ == '__main__':
    main()
