# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VPN concentrator syslog lines (Cisco ASA/AnyConnect, Palo Alto GlobalProtect, FortiGate SSL-VPN,
ocserv) as session events: who connected or disconnected, and the tunnel IP.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: log_presence runs it on log collectors and the presence receiver on
collector hosts.

parse_vpn_line(text, now) returns a VpnEvent or raises SkippedLine (not a usable line: counted)
or Ignored (a valid line that is no session event with a tunnel IP: counted). User names are
client-supplied as typed at login; they become ``vpn_user`` identities escaped by the rs2 rule,
never trusted for linking. A disconnect line that names no tunnel IP (ASA 113019, ocserv) has
``ip`` None: it ends every session of that identity from that concentrator.
"""

from __future__ import annotations

import calendar
import csv
import datetime
import re

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip
from ansible_collections.roamscan.qualys.plugins.module_utils._logon_records import Ignored, SkippedLine, safe_value

PARSERS = ('cisco_asa', 'globalprotect', 'fortigate', 'ocserv')
_MONTHS = {name: number for number, name in enumerate(calendar.month_abbr) if name}
_ISO_TIME = re.compile(r'(?:<[0-9]{1,3}>)?(?:1 )?([0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?'
                       r'(Z|[+-][0-9]{2}:?[0-9]{2})?')
_BSD_TIME = re.compile(r'(?:<[0-9]{1,3}>)?([A-Z][a-z]{2}) +([0-9]{1,2}) (?:([0-9]{4}) )?([0-9]{2}):([0-9]{2}):([0-9]{2})')
_ASA = re.compile(r'%(?:ASA|FTD)-[0-7]-([0-9]{6}): ?(.*)')
_ASA_722051 = re.compile(r'Group <([^>]*)> User <([^>]*)> IP <([^>]*)> IPv4 Address <([^>]*)>')
_ASA_751025 = re.compile(r'Username:(\S+) .*?IPv4 Address=([0-9.]+)')
_ASA_113039 = re.compile(r'Group <?(.*?)>? User <?(.*?)>? IP <?([^ >]*)>? AnyConnect parent session started')
_ASA_113019 = re.compile(r'Group = ([^,]*), Username = ([^,]*), IP = ([^,]*), Session disconnected')
_GP_START = re.compile(r'(?:^|[\s,])([^\s,]*,[^,]*,[^,]*,GLOBALPROTECT,.*)$')
_GP_CONNECT = ('gateway-connected', 'gateway-setup-ipsec', 'gateway-setup-ssl')
_GP_SEEN = ('gateway-hip-check', 'gateway-tunnel-latency', 'gateway-config-release')
_GP_END = ('gateway-logout',)
_FORTI_PAIR = re.compile(r'([a-z_]+)=("(?:[^"\\]|\\.)*"|[^ ]*)')
_FORTI_ACTIONS = {'tunnel-up': 'connect', 'tunnel-down': 'disconnect'}
_OCSERV = re.compile(r'ocserv\[[0-9]+\]: main\[([^\]]*)\]: ?([0-9a-fA-F.:]+):[0-9]+ user (logged in|disconnected)')
_MAX_USER = 256


class VpnEvent:
    """One session event from a concentrator's log line."""

    __slots__ = ('parser', 'kind', 'user', 'ip', 'time', 'aliases', 'message_id')

    def __init__(self, parser, kind, user, ip, time, aliases=None, message_id=None):
        self.parser, self.kind, self.user, self.ip, self.time = parser, kind, user, ip, time
        self.aliases = dict(aliases or {})
        self.message_id = message_id

    def __repr__(self):
        return 'VpnEvent(%s)' % ', '.join('%s=%r' % (n, getattr(self, n)) for n in self.__slots__)


def line_time(text, now):
    """Epoch of the syslog timestamp the line starts with, or None. A BSD timestamp without year
    is in the year that puts it at most a day after ``now``; times without zone are UTC."""
    iso = _ISO_TIME.match(text)
    if iso:
        zone = iso.group(3) or 'Z'
        zone = '+00:00' if zone == 'Z' else zone[:3] + ':' + zone[-2:]
        try:
            moment = datetime.datetime.fromisoformat(iso.group(1).replace(' ', 'T') + zone)
        except ValueError:
            return None
        return int(moment.timestamp())
    bsd = _BSD_TIME.match(text)
    if not bsd or bsd.group(1) not in _MONTHS:
        return None
    month, day = _MONTHS[bsd.group(1)], int(bsd.group(2))
    clock = [int(bsd.group(n)) for n in (4, 5, 6)]
    year = int(bsd.group(3)) if bsd.group(3) else datetime.datetime.fromtimestamp(now, datetime.timezone.utc).year
    try:
        epoch = calendar.timegm((year, month, day, clock[0], clock[1], clock[2]))
        if not bsd.group(3) and epoch > now + 86400:
            epoch = calendar.timegm((year - 1, month, day, clock[0], clock[1], clock[2]))
    except (ValueError, OverflowError):
        return None
    return epoch


def _user(text):
    """The login name without a ``DOMAIN\\`` prefix, rs2-escaped; SkippedLine when empty."""
    value = text.strip().rsplit('\\', 1)[-1]
    if not value or value in ('N/A', '(null)', 'pre-logon') or len(value) > _MAX_USER:
        raise Ignored('no_user')
    return safe_value(value)


def _tunnel_ip(text, required=True):
    try:
        return normalize_ip(text or '')
    except InvalidIp:
        if required:
            raise Ignored('no_tunnel_ip') from None
        return None


def _asa(message_id, body, time):
    if message_id == '722051':
        match = _ASA_722051.search(body)
        if not match:
            raise SkippedLine('bad_cisco_asa')
        return VpnEvent('cisco_asa', 'connect', _user(match.group(2)), _tunnel_ip(match.group(4)), time,
                        {'group': safe_value(match.group(1))} if match.group(1) else None, message_id)
    if message_id == '751025':
        match = _ASA_751025.search(body)
        if not match:
            raise SkippedLine('bad_cisco_asa')
        return VpnEvent('cisco_asa', 'connect', _user(match.group(1)), _tunnel_ip(match.group(2)), time,
                        message_id=message_id)
    if message_id == '113039':
        if not _ASA_113039.search(body):
            raise SkippedLine('bad_cisco_asa')
        raise Ignored('no_tunnel_ip')  # the parent session; 722051 follows with the address
    if message_id == '113019':
        match = _ASA_113019.search(body)
        if not match:
            raise SkippedLine('bad_cisco_asa')
        return VpnEvent('cisco_asa', 'disconnect', _user(match.group(2)), None, time, message_id=message_id)
    raise Ignored('other_message')


def _globalprotect(csv_text, now):
    try:
        fields = next(csv.reader([csv_text]))
    except (csv.Error, StopIteration):
        raise SkippedLine('bad_globalprotect') from None
    if len(fields) < 29:
        raise SkippedLine('bad_globalprotect')
    event_id, status = fields[8], fields[28]
    if event_id in _GP_CONNECT:
        kind = 'connect'
    elif event_id in _GP_SEEN:
        kind = 'seen'
    elif event_id in _GP_END:
        kind = 'disconnect'
    else:
        raise Ignored('other_message')
    if status != 'success':
        raise Ignored('failed')
    aliases = {}
    for name, index in (('machine', 14), ('host_id', 19), ('serial', 20)):
        if fields[index]:
            aliases[name] = safe_value(fields[index][:128])
    time = line_time(fields[6].replace('/', '-'), now)
    return VpnEvent('globalprotect', kind, _user(fields[12]), _tunnel_ip(fields[17], required=kind != 'disconnect'),
                    time, aliases, event_id)


def _fortigate(text, now):
    fields = {name: value[1:-1] if value.startswith('"') else value for name, value in _FORTI_PAIR.findall(text)}
    if fields.get('type') != 'event' or fields.get('subtype') != 'vpn':
        raise Ignored('other_message')
    kind = _FORTI_ACTIONS.get(fields.get('action'))
    if kind is None:
        raise Ignored('other_message')
    if fields.get('tunneltype', 'ssl-tunnel') != 'ssl-tunnel':
        raise Ignored('no_tunnel_ip')  # ssl-web (portal) sessions have no tunnel
    time = None
    if fields.get('date') and fields.get('time'):
        zone = fields.get('tz', '+0000')
        time = line_time('%sT%s%s' % (fields['date'], fields['time'], zone), now)
    aliases = {'tunnel_id': safe_value(fields['tunnelid'])} if fields.get('tunnelid') else None
    return VpnEvent('fortigate', kind, _user(fields.get('user', '')),
                    _tunnel_ip(fields.get('tunnelip'), required=kind == 'connect'), time, aliases, fields.get('logid'))


def parse_vpn_line(text, now):
    """The VpnEvent of one log line (str); see the module docstring for the exceptions."""
    if not isinstance(text, str):
        raise SkippedLine('not_text')
    time = line_time(text, now)
    asa = _ASA.search(text)
    if asa:
        return _asa(asa.group(1), asa.group(2), line_time(asa.group(2), now) or time)
    if ',GLOBALPROTECT,' in text:
        start = _GP_START.search(text)
        if not start:
            raise SkippedLine('bad_globalprotect')
        event = _globalprotect(start.group(1), now)
        event.time = event.time or time
        return event
    if 'logid=' in text and 'subtype=' in text:
        event = _fortigate(text, now)
        event.time = event.time or time
        return event
    ocserv = _OCSERV.search(text)
    if ocserv:
        if ocserv.group(3) == 'logged in':
            raise Ignored('no_tunnel_ip')  # names the client's public address only
        return VpnEvent('ocserv', 'disconnect', _user(ocserv.group(1)), None, time)
    raise Ignored('other_message')
