# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spool record format: one line per record, ``rs1`` (DHCP hooks) and ``rs2`` (every source).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: it runs on DHCP, VPN and log servers inside the reader modules.

    rs1 BOOT_ID UPTIME PID SERVER KIND MAC IP HOSTNAME EXPIRES .
    rs2 BOOT_ID UPTIME PID SOURCE KIND ID_KIND ID_VALUE IP HOSTNAME EXPIRES ALIASES .

BOOT_ID/UPTIME come from /proc (a POSIX shell has no clock without forking ``date``); the reader
turns them into wall time with the boot time it knows for that boot (BootClock). HOSTNAME is
``-``, a name matching SAFE_HOSTNAME, or ``%`` + hex of the raw bytes. EXPIRES is ``-``, an
epoch, or ``+SECONDS`` after the event. IP is ``-`` only in an rs2 end of a log source (IP_OPTIONAL_SOURCES:
a disconnect line that names the user, not the tunnel IP); it ends what that identity holds from
that source. KIND ``gone`` (dnsmasq del) becomes expire or release here. The final ``.`` proves
the record is complete; empty lines are separators the hooks write.
An rs1 line reads as an rs2 line with ID_KIND mac and no aliases.
"""

from __future__ import annotations

import hashlib
import os
import re

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import (
    InvalidIp,
    InvalidMac,
    normalize_ip,
    normalize_mac,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time

RS1 = 'rs1'
RS2 = 'rs2'
RECORD_VERSIONS = (RS1, RS2)
SERVERS = ('kea', 'dhcpd', 'dnsmasq')
SOURCES = SERVERS + ('openvpn', 'ocserv', 'strongswan', 'wireguard', 'receiver', 'syslog', 'samba',
                     'windows', 'neighbor', 'probe')
# What happened, in the sources' words, and the observation event it means.
KIND_EVENTS = {
    'lease': 'start', 'connect': 'start',
    'renew': 'seen', 'seen': 'seen',
    'release': 'end', 'expire': 'end', 'decline': 'end', 'gone': 'end', 'disconnect': 'end',
}
# The lease vocabulary: the controller's remember stage reads the same words from here.
PRESENCE_KINDS = ('lease', 'renew')            # a laptop took or kept a lease
ENDING_KINDS = ('release', 'expire', 'decline')
EVENT_KINDS = PRESENCE_KINDS + ENDING_KINDS    # a DHCP lease event (lease_events)
ID_KINDS = ('mac', 'vpn_cert', 'vpn_user', 'wg_key', 'ad_machine', 'ad_user', 'imported')
MAX_RECORD_BYTES = 4096
SAFE_HOSTNAME = re.compile(r'[A-Za-z0-9][A-Za-z0-9.-]{0,62}')
SAFE_VALUE = re.compile(r'[A-Za-z0-9][A-Za-z0-9._@$+=/:-]{0,127}')
# log-only sources whose end may name no IP (a concentrator logs who left, not always which tunnel IP)
IP_OPTIONAL_SOURCES = ('receiver', 'syslog')
_ALIAS_NAME = re.compile(r'[a-z_]{1,16}')
_BOOT_ID = re.compile(r'[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}')
_UPTIME = re.compile(r'[0-9]{1,10}(\.[0-9]{1,3})?')
_PID = re.compile(r'[0-9]{1,10}')
_HEX_HOSTNAME = re.compile(r'%((?:[0-9a-f]{2}){1,96})')
_HEX_VALUE = re.compile(r'%(?:[0-9a-f]{2}){1,128}')
_EXPIRES = re.compile(r'(\+?)([0-9]{1,12})')
_NOT_PRINTABLE = re.compile(r'[^\x20-\x7e]')
_RS1_KINDS = EVENT_KINDS + ('gone',)
_FIELD_COUNTS = {RS1: 11, RS2: 13}


class CorruptRecord(ValueError):
    """A spool line that is not a complete, valid record. ``reason`` is a short counter key."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


def safe_hostname(value):
    """Return ``value`` if it is a safe host name (``[A-Za-z0-9][A-Za-z0-9.-]{0,62}``), else None."""
    if isinstance(value, str) and SAFE_HOSTNAME.fullmatch(value):
        return value
    return None


class BootClock:
    """Wall-clock time of a hook record: boot time of its boot (by boot id) + its uptime."""

    current_boot = None

    def __init__(self, boots=None):
        self.boots = dict(boots or {})

    @classmethod
    def current(cls, proc='/proc'):
        """A clock that knows this boot (Linux /proc); empty if /proc is unreadable."""
        clock = cls()
        try:
            with open(os.path.join(proc, 'sys/kernel/random/boot_id')) as handle:
                boot_id = handle.read().strip()
            with open(os.path.join(proc, 'stat')) as handle:
                btime = next(int(line.split()[1]) for line in handle if line.startswith('btime '))
        except (OSError, StopIteration, ValueError, IndexError):
            return clock
        clock.boots[boot_id] = btime
        clock.current_boot = boot_id
        return clock

    def time_of(self, boot_id, uptime):
        """Epoch seconds of a record, or None when its boot is unknown."""
        if boot_id not in self.boots or uptime is None:
            return None
        return self.boots[boot_id] + int(uptime)


class SpoolRecord:
    """One parsed spool record (rs1 or rs2). ``as_dict()`` gives the lease_events ``events`` item.

    ``kind`` is the source's word (``gone`` already resolved), ``event`` its meaning
    (start, seen, end). ``hostname`` and ``aliases`` are client-supplied: recorded, never trusted.
    """

    __slots__ = ('version', 'id', 'time', 'source', 'kind', 'id_kind', 'id_value', 'ip', 'hostname',
                 'hostname_hex', 'lease_expires', 'aliases', 'boot_id', 'uptime', 'pid')

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    @property
    def server(self):
        return self.source

    @property
    def mac(self):
        return self.id_value if self.id_kind == 'mac' else None

    @property
    def event(self):
        return KIND_EVENTS[self.kind]

    def is_lease_event(self):
        """Whether this is a DHCP lease event as lease_events reports it (every rs1 record is)."""
        return self.source in SERVERS and self.id_kind == 'mac' and self.kind in EVENT_KINDS

    def as_dict(self):
        return {'id': self.id, 'time': self.time, 'server': self.source, 'kind': self.kind,
                'mac': self.mac, 'ip': self.ip, 'hostname': self.hostname,
                'lease_expires': self.lease_expires}

    def __eq__(self, other):
        return isinstance(other, SpoolRecord) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self):
        return 'SpoolRecord(%s)' % ', '.join('%s=%r' % (n, getattr(self, n)) for n in self.__slots__)


_DEFAULT_CLOCK = []


def _default_clock():
    if not _DEFAULT_CLOCK:
        _DEFAULT_CLOCK.append(BootClock.current())
    return _DEFAULT_CLOCK[0]


def _corrupt(reason, message, line):
    return CorruptRecord(reason, '%s: %r' % (message, line[:120]))


def _decode(line):
    """The record text of a spool line (str or bytes, newline optional); CorruptRecord if not ASCII."""
    if isinstance(line, (bytes, bytearray)):
        try:
            line = bytes(line).decode('ascii')
        except UnicodeDecodeError:
            raise _corrupt('not_ascii', 'spool line is not ASCII', repr(bytes(line)[:120])) from None
    elif not isinstance(line, str):
        raise _corrupt('not_text', 'spool line must be str or bytes', type(line).__name__)
    elif not line.isascii():
        raise _corrupt('not_ascii', 'spool line is not ASCII', repr(line[:120]))
    text = line[:-1] if line.endswith('\n') else line
    if len(text) >= MAX_RECORD_BYTES:
        raise _corrupt('too_long', 'spool line longer than %d bytes' % MAX_RECORD_BYTES, text)
    if _NOT_PRINTABLE.search(text):
        raise _corrupt('not_printable', 'control character in spool line', text)
    return text


def ip_optional(version, source, kind):
    """Whether a record of this version, source and kind may carry ``-`` for its IP (an end of a log source)."""
    return version == RS2 and source in IP_OPTIONAL_SOURCES and KIND_EVENTS.get(kind) == 'end'


def _parse_hostname(field, text):
    """(hostname, hostname_hex) of a HOSTNAME field."""
    if field == '-':
        return None, None
    hexed = _HEX_HOSTNAME.fullmatch(field)
    if hexed:
        return None, hexed.group(1)
    if SAFE_HOSTNAME.fullmatch(field):
        return field, None
    raise _corrupt('bad_hostname', 'bad hostname field', text)


def _parse_identity(id_kind, value, text):
    if id_kind not in ID_KINDS:
        raise _corrupt('bad_id_kind', 'unknown identity kind', text)
    if id_kind == 'mac':
        try:
            return normalize_mac(value)
        except InvalidMac:
            raise _corrupt('bad_mac', 'bad MAC', text) from None
    if SAFE_VALUE.fullmatch(value) or _HEX_VALUE.fullmatch(value):
        return value
    raise _corrupt('bad_identity', 'bad identity value', text)


def _parse_aliases(field, text):
    if field == '-':
        return {}
    aliases = {}
    for pair in field.split(','):
        name, sep, value = pair.partition('=')
        if (not sep or not _ALIAS_NAME.fullmatch(name) or name in aliases
                or not (SAFE_VALUE.fullmatch(value) or _HEX_VALUE.fullmatch(value))):
            raise _corrupt('bad_aliases', 'bad aliases field', text)
        aliases[name] = value
    return aliases


def parse_spool_line(line, clock=None, fallback_time=None):
    """Parse one spool line (rs1 or rs2; str or bytes, with or without its newline) into a SpoolRecord.

    ``clock`` (default: this machine's current boot) turns boot id + uptime into a time; a record
    from an unknown boot gets ``fallback_time`` (epoch; the spool reader passes the segment's
    mtime, an upper bound). Raises CorruptRecord (with a ``reason``) for anything but a complete,
    valid record, and nothing else.
    """
    text = _decode(line)
    fields = text.split(' ')
    version = fields[0]
    if version not in RECORD_VERSIONS:
        raise _corrupt('unknown_version', 'not a %s record' % ' or '.join(RECORD_VERSIONS), text)
    if len(fields) != _FIELD_COUNTS[version] or fields[-1] != '.':
        raise _corrupt('truncated', 'incomplete record', text)
    if version == RS1:
        boot_id, uptime, pid, source, kind, id_value, ip, host_field, expires_field = fields[1:-1]
        id_kind, alias_field = 'mac', '-'
        if source not in SERVERS:
            raise _corrupt('bad_server', 'unknown server', text)
        if kind not in _RS1_KINDS:
            raise _corrupt('bad_kind', 'unknown event kind', text)
    else:
        boot_id, uptime, pid, source, kind, id_kind, id_value, ip, host_field, expires_field, alias_field = fields[1:-1]
        if source not in SOURCES:
            raise _corrupt('bad_source', 'unknown source', text)
        if kind not in KIND_EVENTS:
            raise _corrupt('bad_kind', 'unknown event kind', text)
    if boot_id != '-' and not _BOOT_ID.fullmatch(boot_id):
        raise _corrupt('bad_boot_id', 'bad boot id', text)
    if uptime != '-' and not _UPTIME.fullmatch(uptime):
        raise _corrupt('bad_uptime', 'bad uptime', text)
    if not _PID.fullmatch(pid):
        raise _corrupt('bad_pid', 'bad pid', text)
    id_value = _parse_identity(id_kind, id_value, text)
    if ip == '-' and not ip_optional(version, source, kind):
        raise _corrupt('bad_ip', 'no IP: only an rs2 end of %s may name none' % ' or '.join(IP_OPTIONAL_SOURCES), text)
    try:
        ip = None if ip == '-' else normalize_ip(ip)
    except InvalidIp:
        raise _corrupt('bad_ip', 'bad IP', text) from None
    hostname, hostname_hex = _parse_hostname(host_field, text)
    expires_match = _EXPIRES.fullmatch(expires_field)
    if expires_field != '-' and not expires_match:
        raise _corrupt('bad_expires', 'bad expiry', text)
    aliases = _parse_aliases(alias_field, text)

    uptime_value = None if uptime == '-' else float(uptime)
    epoch = (clock or _default_clock()).time_of(boot_id, uptime_value)
    if epoch is None:
        epoch = fallback_time
    expires = None
    if expires_match:
        expires = int(expires_match.group(2))
        if expires_match.group(1):
            expires = None if epoch is None else int(epoch) + expires
    if kind == 'gone':
        # dnsmasq reports release, decline and expiry alike; an expiry happens at the lease end
        kind = 'expire' if expires is not None and epoch is not None and expires <= int(epoch) + 1 else 'release'
    return SpoolRecord(
        version=version, id=hashlib.sha256(text.encode('ascii')).hexdigest()[:20],
        time=None if epoch is None else iso_time(epoch), source=source, kind=kind, id_kind=id_kind,
        id_value=id_value, ip=ip, hostname=hostname, hostname_hex=hostname_hex,
        lease_expires=None if expires is None else iso_time(expires), aliases=aliases,
        boot_id=None if boot_id == '-' else boot_id, uptime=uptime_value, pid=int(pid))


def _encoded(value, limit):
    """A field value as written: as-is when safe or already escaped (a log parser's safe_value), else ``%`` + hex
    of its first ``limit`` bytes."""
    if not isinstance(value, str) or not value:
        raise ValueError('identity and alias values must be non-empty strings, got %r' % (value,))
    if SAFE_VALUE.fullmatch(value) or _HEX_VALUE.fullmatch(value):
        return value
    return '%' + value.encode('utf-8', 'surrogateescape')[:limit].hex()


def format_spool_record(source, kind, identity, ip, hostname=None, expires=None, boot_id=None, uptime=None,
                        pid=0, id_kind='mac', aliases=None, version=RS1):
    """The record line a hook writes for these values (newline included); for tests and tools.

    ``version`` rs1 writes a DHCP record (``identity`` is the MAC); rs2 any source and identity
    kind, with ``aliases`` a dict of name -> value; ``ip`` None only where ip_optional.
    ValueError for values no hook writes.
    """
    if version not in RECORD_VERSIONS:
        raise ValueError('unknown record version %r' % (version,))
    if source not in (SERVERS if version == RS1 else SOURCES):
        raise ValueError('unknown %s source %r' % (version, source))
    if kind not in (_RS1_KINDS if version == RS1 else KIND_EVENTS):
        raise ValueError('unknown %s kind %r' % (version, kind))
    if id_kind not in ID_KINDS or (version == RS1 and (id_kind != 'mac' or aliases)):
        raise ValueError('rs1 records carry a MAC and no aliases; identity kinds are %s' % ', '.join(ID_KINDS))
    if hostname is None or hostname == '':
        host_field = '-'
    elif safe_hostname(hostname):
        host_field = hostname
    else:
        host_field = '%' + hostname.encode('utf-8', 'surrogateescape')[:96].hex()
    if ip is None and not ip_optional(version, source, kind):
        raise ValueError('only an rs2 end of %s may name no IP' % ' or '.join(IP_OPTIONAL_SOURCES))
    head = [version, boot_id or '-', '-' if uptime is None else '%.2f' % uptime, str(pid), source, kind]
    value = normalize_mac(identity) if id_kind == 'mac' else _encoded(identity, 128)
    tail = ['-' if ip is None else normalize_ip(ip), host_field, '-' if expires is None else str(expires)]
    if version == RS1:
        return ' '.join(head + [value] + tail + ['.']) + '\n'
    for name in aliases or {}:
        if not _ALIAS_NAME.fullmatch(name):
            raise ValueError('alias name %r is not [a-z_]{1,16}' % (name,))
    alias_field = ','.join('%s=%s' % (n, _encoded(v, 128)) for n, v in (aliases or {}).items()) or '-'
    return ' '.join(head + [id_kind, value] + tail + [alias_field, '.']) + '\n'
