# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain-controller logon records -> presence observations.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: it runs on Samba DCs and on Windows log collectors inside logon_events.

One JSON object per line, in one of three shapes:

- Samba's authentication audit (``auth_json_audit``): ``{"type": "Authentication",
  "Authentication": {"eventId": 4624, "status": "NT_STATUS_OK", "remoteAddress": "ipv4:IP:PORT",
  "clientAccount", "becameAccount", ...}}``; Samba indents it and may put a debug header first.
- A Windows Security event written by NXLog (``im_msvistalog`` + ``to_json()``): ``EventID``,
  ``EventType``, ``EventTime``, ``Hostname`` and the event data (``TargetUserName``,
  ``IpAddress``, ``Status``, ...) as top-level fields.
- The same event written by Winlogbeat: ``@timestamp``, ``winlog.event_id``,
  ``winlog.event_data.*``, ``winlog.computer_name``, ``event.outcome``.

Only successful logons count (Samba 4624 with NT_STATUS_OK; Windows 4768/4769 with Status 0x0,
4624). The account becomes the identity (``ad_machine`` when it ends in ``$``), the client
address the IP; addresses of the DC itself, loopback and configured infrastructure are dropped.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import json
import os
import re

from ansible_collections.roamscan.qualys.plugins.module_utils._observation import observation
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import SAFE_VALUE, safe_hostname
from ansible_collections.roamscan.qualys.plugins.module_utils._time import format_time

SAMBA = 'samba'
WINDOWS = 'windows'
# what each logon is, in the observation's ``why``
WINDOWS_EVENTS = {4624: 'logon', 4768: 'tgt', 4769: 'service_ticket'}
SAFE_DETAIL = re.compile(r'[A-Za-z0-9][A-Za-z0-9 ._@$+=/:-]{0,127}')
_SAMBA_ADDRESS = re.compile(r'(ipv4|ipv6):(.+):([0-9]{1,5})')
# Samba's debug header: "[2026/12/01 09:15:06.694718,  3] ../../auth/auth_log.c:635(log_json)"
_DEBUG_HEADER = re.compile(rb'\[[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9:.]+, *[0-9]+[^\]]{0,80}\]( [^ {]{1,200}\([A-Za-z0-9_]{1,64}\))?')
_OFFSET = re.compile(r'([+-])([0-9]{2}):?([0-9]{2})$')
_ANONYMOUS = ('', '-', 'ANONYMOUS LOGON')


class SkippedLine(ValueError):
    """A line that is not a usable record; ``reason`` is a short counter key, never fatal."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


class ExclusionError(ValueError):
    """An excluded address that is no IP address or CIDR."""


class Ignored(Exception):
    """A valid record that is no presence (failed logon, infrastructure address, other event)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def safe_value(text, limit=128, pattern=SAFE_VALUE):
    """``text`` as-is when it matches ``pattern``, otherwise ``%`` + hex of its first ``limit``
    UTF-8 bytes (the rs2 spool rule), so no control or shell character ever leaves the reader."""
    if pattern.fullmatch(text):
        return text
    return '%' + text.encode('utf-8', 'surrogateescape')[:limit].hex()


class AddressFilter:
    """Which client addresses are no laptop: loopback, unspecified, link-local, the DC's own
    addresses and configured infrastructure (VPN concentrator outside address, jump hosts)."""

    def __init__(self, excluded=(), own=()):
        self.networks = []
        for item in list(excluded) + list(own):
            try:
                self.networks.append(ipaddress.ip_network(str(item).strip(), strict=False))
            except ValueError:
                raise ExclusionError('not an IP address or CIDR: %r' % str(item)[:64]) from None

    def reason(self, address):
        """None for a usable client address, else the counter key it is dropped under."""
        if address.is_loopback or address.is_unspecified:
            return 'loopback'
        if address.is_link_local or address.is_multicast:
            return 'link_local'
        if any(address.version == net.version and address in net for net in self.networks):
            return 'infrastructure'
        return None


def client_address(text):
    """An ipaddress object from Samba's ``ipv4:IP:PORT`` / ``ipv6:IP:PORT`` or Windows'
    ``::ffff:a.b.c.d`` / ``a.b.c.d`` / ``fe80::1%12``; IPv4-mapped IPv6 becomes IPv4.
    None when the record names no network address (``-``, empty, null, a unix socket)."""
    if text is None:
        return None
    if not isinstance(text, str):
        raise SkippedLine('bad_address')
    value = text.strip()
    if value in ('', '-'):
        return None
    samba = _SAMBA_ADDRESS.fullmatch(value)
    if samba:
        value = samba.group(2).strip('[]')
    elif value.startswith(('unix:', 'ncalrpc')):
        return None
    value = value.split('%', 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise SkippedLine('bad_address') from None
    if address.version == 6 and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def event_time(text):
    """The collection's time string from an ISO-8601 time (``Z``, ``+00:00`` or Samba's
    ``+0000``), or NXLog's ``YYYY-MM-DD hh:mm:ss`` which docs/dc_audit.md makes it write in UTC."""
    if not isinstance(text, str) or not 10 <= len(text) <= 40:
        raise SkippedLine('bad_time')
    value = text.strip()
    offset = datetime.timezone.utc
    if value.endswith('Z'):
        value = value[:-1]
    else:
        match = _OFFSET.search(value)
        if match and match.start() > 10:  # after the date, so never the date's own dashes
            sign = -1 if match.group(1) == '-' else 1
            offset = datetime.timezone(sign * datetime.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
            value = value[:match.start()]
    value = value.replace(' ', 'T', 1)
    if '.' in value:
        value = value.split('.', 1)[0]
    try:
        moment = datetime.datetime.strptime(value, '%Y-%m-%dT%H:%M:%S')
    except ValueError:
        raise SkippedLine('bad_time') from None
    return format_time(moment.replace(tzinfo=offset))


def account_identity(account, domain):
    """(kind, value, domain) for an account name: ``user@REALM`` and ``DOMAIN\\user`` are split;
    machine accounts (ending in ``$``) are upper-case like NetBIOS names, users lower-case."""
    if not isinstance(account, str) or not isinstance(domain, (str, type(None))):
        raise SkippedLine('bad_account')
    name = account.strip()
    if '\\' in name:
        domain, name = name.split('\\', 1)
    if '@' in name:
        name, domain = name.rsplit('@', 1)
    if name.upper() in _ANONYMOUS:
        raise Ignored('anonymous')
    if name.endswith('$'):
        kind, value = 'ad_machine', name.upper()
    else:
        kind, value = 'ad_user', name.lower()
    return kind, safe_value(value), safe_value(domain.upper(), 64) if domain and domain != '-' else None


def _samba(record):
    auth = record.get('Authentication')
    if record.get('type') != 'Authentication' or not isinstance(auth, dict):
        raise Ignored('other_event')
    if auth.get('eventId') != 4624 or auth.get('status') != 'NT_STATUS_OK':
        raise Ignored('failed')
    # becameAccount is what the DC mapped the logon to after checking it; clientAccount is only
    # what the client asked for
    account = auth.get('becameAccount') or auth.get('mappedAccount') or auth.get('clientAccount')
    domain = auth.get('becameDomain') or auth.get('mappedDomain') or auth.get('clientDomain')
    why = 'tgt' if auth.get('serviceDescription') == 'Kerberos KDC' else 'logon'
    return {'event_id': 4624, 'why': why, 'account': account, 'domain': domain, 'address': auth.get('remoteAddress'),
            'time': record.get('timestamp'), 'service': auth.get('serviceDescription'),
            'workstation': auth.get('workstation'), 'dc': None, 'success': True}


def _windows_event_id(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        raise SkippedLine('bad_event_id') from None


def _windows(event_id, data, when, dc, failed_flag):
    if event_id not in WINDOWS_EVENTS:
        raise Ignored('other_event')
    status = str(data.get('Status', '0x0')).lower()
    success = not failed_flag and status in ('0x0', '0')
    return {'event_id': event_id, 'why': WINDOWS_EVENTS[event_id], 'account': data.get('TargetUserName'),
            'domain': data.get('TargetDomainName'),
            'address': data.get('IpAddress'), 'time': when, 'service': data.get('ServiceName'),
            'workstation': data.get('WorkstationName'), 'dc': dc, 'success': success}


def _nxlog(record):
    failed = str(record.get('EventType', '')).upper() == 'AUDIT_FAILURE'
    return _windows(_windows_event_id(record.get('EventID')), record, record.get('EventTime'),
                    record.get('Hostname'), failed)


def _winlogbeat(record):
    winlog = record.get('winlog')
    data = winlog.get('event_data') if isinstance(winlog, dict) else None
    if not isinstance(data, dict):
        raise SkippedLine('bad_shape')
    event = record.get('event') if isinstance(record.get('event'), dict) else {}
    keywords = winlog.get('keywords') if isinstance(winlog.get('keywords'), list) else []
    failed = event.get('outcome') == 'failure' or 'Audit Failure' in keywords
    return _windows(_windows_event_id(winlog.get('event_id', event.get('code'))), data, record.get('@timestamp'),
                    winlog.get('computer_name'), failed)


def _json_object(line):
    text = line.lstrip(b'\x00').strip()
    header = _DEBUG_HEADER.match(text)
    if header:
        text = text[header.end():].strip()
        if not text:
            raise Ignored('debug_header')
    if not text.startswith(b'{'):
        raise SkippedLine('not_json')
    try:
        record = json.loads(text.decode('utf-8'))
    except UnicodeDecodeError:
        raise SkippedLine('not_utf8') from None
    except ValueError:
        raise SkippedLine('bad_json') from None
    if not isinstance(record, dict):
        raise SkippedLine('not_json')
    return record


def parse_logon_line(line, address_filter, host):
    """The observation of one log line (bytes without newline); ``host`` names the DC for Samba
    records (Windows events name their DC themselves).

    Raises SkippedLine for input that is no record (counted as bad input) and Ignored for a
    valid record that is no presence (counted apart: failed logons, infrastructure, ...).
    """
    record = _json_object(line)
    if 'Authentication' in record or record.get('type') in ('Authorization', 'Authentication'):
        source, fields = SAMBA, _samba(record)
    elif 'winlog' in record:
        source, fields = WINDOWS, _winlogbeat(record)
    elif 'EventID' in record:
        source, fields = WINDOWS, _nxlog(record)
    else:
        raise SkippedLine('unknown_shape')
    if not fields['success']:
        raise Ignored('failed')
    address = client_address(fields['address'])
    if address is None:
        raise Ignored('no_address')
    dropped = address_filter.reason(address)
    if dropped:
        raise Ignored(dropped)
    if address.version == 6:
        raise Ignored('ipv6')  # holdings are IPv4 (DHCP leases, VPN tunnels, Qualys targets)
    kind, value, domain = account_identity(fields['account'], fields['domain'])
    detail = {'event_id': fields['event_id'], 'domain': domain}
    for name in ('service', 'workstation', 'dc'):
        text = fields[name]
        detail[name] = safe_value(text, 96, SAFE_DETAIL) if isinstance(text, str) and text not in ('', '-') else None
    result = observation(source, detail['dc'] or host, 'seen', fields['why'], kind, value, str(address),
                         event_time(fields['time']), record_id=hashlib.sha256(line).hexdigest()[:20],
                         # the NTLM workstation name is client-supplied: recorded, never trusted
                         hostname=safe_hostname(fields['workstation']))
    result['detail'] = detail
    return result


def local_addresses(proc='/proc'):
    """This host's own IPv4 and IPv6 addresses (Linux /proc; empty when unreadable): on a DC
    they are the DC's, whose own logons are no laptop."""
    found = set()
    try:
        with open(os.path.join(proc, 'net/fib_trie')) as handle:
            previous = None
            for line in handle:
                text = line.strip()
                if text.startswith('|--'):
                    previous = text[3:].strip()
                elif text == '/32 host LOCAL' and previous:
                    found.add(previous)
    except OSError:
        pass
    try:
        with open(os.path.join(proc, 'net/if_inet6')) as handle:
            for line in handle:
                raw = line.split()[0] if line.split() else ''
                if len(raw) == 32:
                    found.add(str(ipaddress.IPv6Address(bytes.fromhex(raw))))
    except (OSError, ValueError):
        pass
    return sorted(found)
