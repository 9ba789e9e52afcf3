# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Presence data shared by the DHCP side and the controller.

Standard library only: this file is shipped to DHCP servers with the lease_events module.
"""

from __future__ import annotations

import binascii
import calendar
import hashlib
import ipaddress
import json
import os
import re
import time


class PresenceError(ValueError):
    """Base class for invalid presence data."""


class InvalidMac(PresenceError):
    """A MAC address that cannot be normalised."""


class InvalidIp(PresenceError):
    """An IPv4 address that is not a valid unicast host address."""


_MAC_PART = re.compile(r'^[0-9a-fA-F]{1,2}$')
_MAC_BARE = re.compile(r'^[0-9a-fA-F]{12}$')


def normalize_mac(value):
    """Return a MAC as lower-case, colon-separated, zero-padded octets.

    Accepts ISC dhcpd's unpadded form (``2:77:0:0:a:1``), dashes (Windows),
    Cisco dotted (``0277.0000.0a01``) and bare hex.
    """
    if not isinstance(value, str):
        raise InvalidMac('MAC address must be a string, got %s' % type(value).__name__)
    text = value.strip()
    if _MAC_BARE.match(text.replace('.', '')) and text.count('.') in (0, 2):
        bare = text.replace('.', '')
        parts = [bare[i:i + 2] for i in range(0, 12, 2)]
    else:
        parts = re.split(r'[:-]', text)
        if len(parts) != 6 or not all(_MAC_PART.match(p) for p in parts):
            raise InvalidMac('not a MAC address: %r' % value[:64])
    return ':'.join(p.zfill(2).lower() for p in parts)


def normalize_ip(value):
    """Return a dotted-quad IPv4 host address, or raise InvalidIp."""
    if not isinstance(value, str):
        raise InvalidIp('IP address must be a string, got %s' % type(value).__name__)
    text = value.strip()
    if not re.match(r'^[0-9]{1,3}(\.[0-9]{1,3}){3}$', text):
        raise InvalidIp('not an IPv4 address: %r' % value[:64])
    try:
        address = ipaddress.IPv4Address(text)
    except ValueError:
        raise InvalidIp('not an IPv4 address: %r' % value[:64]) from None
    if address.is_multicast or address.is_unspecified or text == '255.255.255.255':
        raise InvalidIp('not a unicast host address: %s' % text)
    return str(address)


def mac_host_name(mac):
    """Inventory host name of the laptop with this MAC (``mac-027700000a01``)."""
    return 'mac-' + normalize_mac(mac).replace(':', '')


# --------------------------------------------------------------------------- spool records
#
# The hook (roles/dhcp_hook/templates/roamscan-lease-hook.j2) appends lines of 11 fields:
#   rs1 BOOT_ID UPTIME PID SERVER KIND MAC IP HOSTNAME EXPIRES .
# BOOT_ID/UPTIME come from /proc (a POSIX shell has no clock without forking `date`); the reader
# turns them into wall time with the boot time it knows for that boot. HOSTNAME is '-', a name
# matching SAFE_HOSTNAME, or '%' + hex of the raw bytes. EXPIRES is '-', an epoch, or '+SECONDS'
# after the event. KIND 'gone' (dnsmasq del) becomes expire or release here. The final '.' proves
# the record is complete; empty lines are separators written by the hook.

RECORD_VERSION = 'rs1'
SERVERS = ('kea', 'dhcpd', 'dnsmasq')
# The lease vocabulary, here because the EDA source loads this file on its own; the controller's
# remember stage reads the same words from here.
PRESENCE_KINDS = ('lease', 'renew')            # a laptop took or kept a lease
ENDING_KINDS = ('release', 'expire', 'decline')
EVENT_KINDS = PRESENCE_KINDS + ENDING_KINDS
LEASE_STATES = ('active', 'released', 'expired', 'declined', 'free')   # rows of a lease table
MAX_RECORD_BYTES = 4096
SAFE_HOSTNAME = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$')
_BOOT_ID = re.compile(r'^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$')
_UPTIME = re.compile(r'^[0-9]{1,10}(\.[0-9]{1,3})?$')
_HEX_HOSTNAME = re.compile(r'^%((?:[0-9a-f]{2}){1,96})$')
_EXPIRES = re.compile(r'^(\+?)([0-9]{1,12})$')
_RECORD_KINDS = EVENT_KINDS + ('gone',)
_FIELDS = 11


class CorruptRecord(PresenceError):
    """A spool line that is not a complete, valid record. ``reason`` is a short counter key."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class SpoolError(PresenceError):
    """The spool cannot be used as asked (unreadable directory, foreign or malformed cursor)."""


class LeaseFileError(PresenceError):
    """A lease database that cannot be read."""


def iso_time(epoch):
    """ISO-8601 UTC with second precision and ``Z`` (the collection's time format)."""
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(int(epoch)))


def safe_hostname(value):
    """Return ``value`` if it is a safe host name (``[A-Za-z0-9][A-Za-z0-9.-]{0,62}``), else None."""
    if isinstance(value, str) and SAFE_HOSTNAME.match(value):
        return value
    return None


class BootClock:
    """Wall-clock time of a hook record: boot time of its boot (by boot id) + its uptime."""

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

    current_boot = None

    def time_of(self, boot_id, uptime):
        """Epoch seconds of a record, or None when its boot is unknown."""
        if boot_id not in self.boots or uptime is None:
            return None
        return self.boots[boot_id] + int(uptime)


class PresenceEvent:
    """One parsed hook record. ``as_dict()`` gives the lease_events ``events`` item."""

    __slots__ = ('id', 'time', 'server', 'kind', 'mac', 'ip', 'hostname', 'hostname_hex',
                 'lease_expires', 'boot_id', 'uptime', 'pid')

    def __init__(self, **fields):
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def as_dict(self):
        return {'id': self.id, 'time': self.time, 'server': self.server, 'kind': self.kind,
                'mac': self.mac, 'ip': self.ip, 'hostname': self.hostname,
                'lease_expires': self.lease_expires}

    def __eq__(self, other):
        return isinstance(other, PresenceEvent) and all(
            getattr(self, n) == getattr(other, n) for n in self.__slots__)

    def __repr__(self):
        return 'PresenceEvent(%s)' % ', '.join('%s=%r' % (n, getattr(self, n)) for n in self.__slots__)


_DEFAULT_CLOCK = []


def _default_clock():
    if not _DEFAULT_CLOCK:
        _DEFAULT_CLOCK.append(BootClock.current())
    return _DEFAULT_CLOCK[0]


def _corrupt(reason, message, line):
    return CorruptRecord(reason, '%s: %r' % (message, line[:120]))


def parse_spool_line(line, clock=None, fallback_time=None):
    """Parse one spool line (str or bytes, with or without its newline) into a PresenceEvent.

    ``clock`` (default: this machine's current boot) turns boot id + uptime into a time; a record
    from an unknown boot gets ``fallback_time`` (epoch; the lease_events reader passes the
    segment's mtime, an upper bound). Raises CorruptRecord for anything but a complete record.
    """
    if isinstance(line, bytes):
        raw = line
        try:
            line = line.decode('ascii')
        except UnicodeDecodeError:
            raise _corrupt('not_ascii', 'spool line is not ASCII', repr(raw)) from None
    text = line[:-1] if line.endswith('\n') else line
    if len(text) >= MAX_RECORD_BYTES:
        raise _corrupt('too_long', 'spool line longer than %d bytes' % MAX_RECORD_BYTES, text)
    fields = text.split(' ')
    if fields[0] != RECORD_VERSION:
        raise _corrupt('unknown_version', 'not a %s record' % RECORD_VERSION, text)
    if len(fields) != _FIELDS or fields[-1] != '.':
        raise _corrupt('truncated', 'incomplete record', text)
    boot_id, uptime, pid, server, kind, mac, ip, host_field, expires_field = fields[1:-1]
    if boot_id != '-' and not _BOOT_ID.match(boot_id):
        raise _corrupt('bad_boot_id', 'bad boot id', text)
    if uptime != '-' and not _UPTIME.match(uptime):
        raise _corrupt('bad_uptime', 'bad uptime', text)
    if not pid.isdigit() or len(pid) > 10:
        raise _corrupt('bad_pid', 'bad pid', text)
    if server not in SERVERS:
        raise _corrupt('bad_server', 'unknown server', text)
    if kind not in _RECORD_KINDS:
        raise _corrupt('bad_kind', 'unknown event kind', text)
    try:
        mac = normalize_mac(mac)
    except InvalidMac:
        raise _corrupt('bad_mac', 'bad MAC', text) from None
    try:
        ip = normalize_ip(ip)
    except InvalidIp:
        raise _corrupt('bad_ip', 'bad IP', text) from None
    hostname = hostname_hex = None
    if host_field != '-':
        hexed = _HEX_HOSTNAME.match(host_field)
        if hexed:
            hostname_hex = hexed.group(1)
        elif SAFE_HOSTNAME.match(host_field):
            hostname = host_field
        else:
            raise _corrupt('bad_hostname', 'bad hostname field', text)
    expires_match = _EXPIRES.match(expires_field)
    if expires_field != '-' and not expires_match:
        raise _corrupt('bad_expires', 'bad expiry', text)

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
    return PresenceEvent(
        id=hashlib.sha256(text.encode('ascii')).hexdigest()[:20],
        time=None if epoch is None else iso_time(epoch), server=server, kind=kind, mac=mac, ip=ip,
        hostname=hostname, hostname_hex=hostname_hex,
        lease_expires=None if expires is None else iso_time(expires),
        boot_id=None if boot_id == '-' else boot_id, uptime=uptime_value, pid=int(pid))


def format_spool_record(server, kind, mac, ip, hostname=None, expires=None, boot_id=None, uptime=None, pid=0):
    """The record line the hook writes for these values (newline included); for tests and tools."""
    if hostname is None or hostname == '':
        host_field = '-'
    elif safe_hostname(hostname):
        host_field = hostname
    else:
        host_field = '%' + hostname.encode('utf-8', 'surrogateescape')[:96].hex()
    return ' '.join([RECORD_VERSION, boot_id or '-', '-' if uptime is None else '%.2f' % uptime, str(pid),
                     server, kind, normalize_mac(mac), normalize_ip(ip), host_field,
                     '-' if expires is None else str(expires), '.']) + '\n'


# --------------------------------------------------------------------------- spool protocol
#
# <spool>/current     the hook appends here (O_APPEND, one write per run)
# <spool>/seg.N       rotated segments; N never repeats (state.next_segment)
# <spool>/state.json  spool_id, next_segment, acked {N: offset}, boots {boot_id: btime}
# A read renames current -> seg.N (atomic), then returns every complete line after the acked
# offset of each segment and a cursor "rs1:<spool_id>:N.offset,...". Acking a cursor raises the
# acked offsets (state written atomically first), then deletes segments that are fully acked
# and untouched for ACK_GRACE seconds (a hook that opened current before the rename may still
# append to the renamed file; its record lands after the acked offset and is read next time).
# A crash between any two steps repeats at most a delivery; it never loses or re-delivers an
# acknowledged record. See docs/dhcp_hook.md.

CURRENT_FILE = 'current'
STATE_FILE = 'state.json'
SEGMENT_PREFIX = 'seg.'
ACK_GRACE = 60
MAX_EVENTS_PER_READ = 20000
_CURSOR = re.compile(r'^rs1:([0-9a-f]{16}):((?:[0-9]{1,12}\.[0-9]{1,15})(?:,[0-9]{1,12}\.[0-9]{1,15})*)?$')
_MAX_REMEMBERED_BOOTS = 16


class SpoolBatch:
    """What one read returned: events, the cursor that acknowledges them, skipped line counts."""

    def __init__(self, events, cursor, skipped):
        self.events = events
        self.cursor = cursor
        self.skipped = skipped

    def skipped_summary(self):
        return {'count': sum(self.skipped.values()), 'reasons': dict(sorted(self.skipped.items()))}


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool:
    """The lease_events side of the spool directory (the hook only appends to ``current``)."""

    def __init__(self, path, clock=None, ack_grace=ACK_GRACE, max_events=MAX_EVENTS_PER_READ):
        self.path = path
        self.clock = clock or BootClock.current()
        self.ack_grace = ack_grace
        self.max_events = max_events

    # -- files
    def _file(self, name):
        return os.path.join(self.path, name)

    def segment_path(self, number):
        return self._file('%s%010d' % (SEGMENT_PREFIX, number))

    def segments(self):
        """Numbers of the segments present, ascending."""
        try:
            names = os.listdir(self.path)
        except OSError as exc:
            raise SpoolError('cannot list spool directory %s: %s' % (self.path, exc.strerror)) from None
        found = []
        for name in names:
            suffix = name[len(SEGMENT_PREFIX):]
            if name.startswith(SEGMENT_PREFIX) and suffix.isdigit():
                found.append(int(suffix))
        return sorted(found)

    def load_state(self):
        """The state file, or a fresh state (not yet written) when there is none."""
        try:
            with open(self._file(STATE_FILE)) as handle:
                state = json.load(handle)
        except FileNotFoundError:
            return {'spool_id': binascii.hexlify(os.urandom(8)).decode(), 'next_segment': 1,
                    'acked': {}, 'boots': {}, 'new': True}
        except (OSError, ValueError) as exc:
            raise SpoolError('cannot read %s: %s' % (self._file(STATE_FILE), exc)) from None
        if not isinstance(state, dict) or not re.match(r'^[0-9a-f]{16}$', str(state.get('spool_id', ''))):
            raise SpoolError('%s is not a roamscan spool state file' % self._file(STATE_FILE))
        state.setdefault('next_segment', 1)
        state.setdefault('acked', {})
        state.setdefault('boots', {})
        return state

    def save_state(self, state):
        """Write the state atomically and durably (temp file, fsync, rename, fsync dir)."""
        data = {k: v for k, v in state.items() if k != 'new'}
        tmp = self._file('.%s.%d.tmp' % (STATE_FILE, os.getpid()))
        with open(tmp, 'w') as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self._file(STATE_FILE))
        _fsync_dir(self.path)
        state.pop('new', None)

    # -- protocol steps
    def parse_cursor(self, cursor, state):
        """{segment: offset} from a cursor this spool issued; SpoolError otherwise."""
        match = _CURSOR.match(cursor.strip()) if isinstance(cursor, str) else None
        if not match:
            raise SpoolError('malformed cursor %r (expected one returned by lease_events)' % str(cursor)[:80])
        if match.group(1) != state['spool_id']:
            raise SpoolError('cursor belongs to spool %s, not to this spool %s (%s)'
                             % (match.group(1), state['spool_id'], self.path))
        positions = {}
        for item in (match.group(2) or '').split(','):
            if item:
                number, offset = item.split('.')
                positions[int(number)] = int(offset)
        return positions

    def ack(self, cursor, state, check_mode=False):
        """Acknowledge a cursor. Returns (segments removed, whether anything changed); in check
        mode what would be removed/changed."""
        positions = self.parse_cursor(cursor, state)
        acked = state['acked']
        raised = False
        for number, offset in positions.items():
            try:
                size = os.stat(self.segment_path(number)).st_size
            except FileNotFoundError:
                continue  # already removed by an earlier ack of the same or a later cursor
            if offset > size:
                raise SpoolError('cursor position %d.%d is beyond the end of segment %d (%d bytes): '
                                 'not a cursor of this spool' % (number, offset, number, size))
            if offset > acked.get(str(number), 0):
                acked[str(number)] = offset
                raised = True
        removable = []
        now = time.time()
        for number in self.segments():
            if number >= state['next_segment']:
                continue
            stat = os.stat(self.segment_path(number))
            if acked.get(str(number), 0) >= stat.st_size and now - stat.st_mtime >= self.ack_grace:
                removable.append(number)
        if check_mode:
            return len(removable), raised or bool(removable)
        if raised or state.get('new'):
            self.save_state(state)
        if removable:
            for number in removable:
                os.unlink(self.segment_path(number))
            _fsync_dir(self.path)
            for number in removable:
                acked.pop(str(number), None)
            self.save_state(state)
        return len(removable), raised or bool(removable)

    def rotate(self, state):
        """Rename current to the next segment; returns its number, or None when nothing to rotate."""
        current = self._file(CURRENT_FILE)
        try:
            if os.stat(current).st_size == 0:
                return None
        except FileNotFoundError:
            return None
        existing = self.segments()
        number = max([state['next_segment']] + [n + 1 for n in existing])
        state['next_segment'] = number + 1
        self.save_state(state)
        os.rename(current, self.segment_path(number))
        _fsync_dir(self.path)
        return number

    def remember_boot(self, state):
        boot_id = self.clock.current_boot
        if boot_id and state['boots'].get(boot_id) != self.clock.boots[boot_id]:
            state['boots'][boot_id] = self.clock.boots[boot_id]
            if len(state['boots']) > _MAX_REMEMBERED_BOOTS:
                oldest = sorted(state['boots'], key=state['boots'].get)[0]
                del state['boots'][oldest]
            return True
        return False

    def _read_file(self, path, offset, events, skipped, clock):
        """Append parsed events from complete lines after ``offset``; returns the new offset."""
        try:
            with open(path, 'rb') as handle:
                fallback = os.fstat(handle.fileno()).st_mtime
                handle.seek(offset)
                data = handle.read()
        except FileNotFoundError:
            return offset
        position = offset
        start = 0
        while len(events) < self.max_events:
            end = data.find(b'\n', start)
            if end < 0:
                break  # no newline yet: a torn write; the next record's leading newline ends it
            line = data[start:end]
            start = end + 1
            position = offset + start
            if not line:
                continue
            try:
                events.append(parse_spool_line(line, clock=clock, fallback_time=fallback))
            except CorruptRecord as exc:
                skipped[exc.reason] = skipped.get(exc.reason, 0) + 1
        return position

    def read(self, state, include_current=False):
        """Events after the acked offsets, in spool order; ``include_current`` (check mode) also
        reads ``current`` without rotating it; its events are not covered by the cursor."""
        clock = BootClock(state['boots'])
        clock.boots.update(self.clock.boots)
        events, skipped, positions = [], {}, []
        for number in self.segments():
            start = state['acked'].get(str(number), 0)
            positions.append((number, self._read_file(self.segment_path(number), start, events, skipped, clock)))
            if len(events) >= self.max_events:
                break
        if include_current and len(events) < self.max_events:
            self._read_file(self._file(CURRENT_FILE), 0, events, skipped, clock)
        cursor = None
        if not state.get('new'):
            cursor = 'rs1:%s:%s' % (state['spool_id'], ','.join('%d.%d' % p for p in positions))
        return SpoolBatch(events, cursor, skipped)

    def collect(self, ack=None, check_mode=False, read_events=True):
        """The lease_events protocol: ack, rotate, read. Returns (SpoolBatch or None when
        not ``read_events``, segments removed, changed)."""
        if not os.path.isdir(self.path):
            raise SpoolError('spool directory %s does not exist (is the dhcp_hook role applied?)' % self.path)
        state = self.load_state()
        removed = 0
        changed = False
        if ack:
            removed, changed = self.ack(ack, state, check_mode=check_mode)
        if not read_events:
            return None, removed, changed
        if check_mode:
            return self.read(state, include_current=True), removed, changed
        if self.remember_boot(state) or state.get('new'):
            self.save_state(state)
        self.rotate(state)
        return self.read(state), removed, changed


class SpoolFollower:
    """Read-only tail of ``<spool>/current`` for near-real-time consumers (the EDA source).

    Never rotates or acknowledges: lease_events stays the only consumer that removes data.
    Follows ``current`` across lease_events' renames (reads the renamed file to its end first).
    """

    def __init__(self, spool_dir, from_start=False, clock=None):
        self.path = os.path.join(spool_dir, CURRENT_FILE)
        self.clock = clock
        self._handle = None
        self._pending = b''
        self._from_start = from_start
        self.skipped = {}

    def _open(self, at_end):
        try:
            self._handle = open(self.path, 'rb')
        except FileNotFoundError:
            self._handle = None
            return
        if at_end:
            self._handle.seek(0, os.SEEK_END)

    def _drain(self, events):
        data = self._pending + self._handle.read()
        lines = data.split(b'\n')
        self._pending = lines.pop()
        for line in lines:
            if not line:
                continue
            try:
                events.append(parse_spool_line(line, clock=self.clock, fallback_time=time.time()))
            except CorruptRecord as exc:
                self.skipped[exc.reason] = self.skipped.get(exc.reason, 0) + 1

    def poll(self):
        """Events appended since the previous poll (possibly none)."""
        events = []
        if self._handle is None:
            self._open(at_end=not self._from_start)
            self._from_start = True  # a current created later is read from its beginning
            if self._handle is None:
                return events
        self._drain(events)
        try:
            rotated = os.stat(self.path).st_ino != os.fstat(self._handle.fileno()).st_ino
        except FileNotFoundError:
            rotated = True
        if rotated:
            self._drain(events)
            self._handle.close()
            self._handle = None
            self._pending = b''
            self._open(at_end=False)
            if self._handle is not None:
                self._drain(events)
        return events

    def close(self):
        if self._handle is not None:
            self._handle.close()
            self._handle = None


def follow_spool(spool_dir, interval=0.5, from_start=False, clock=None):
    """Generator of PresenceEvents appended to the spool, polling every ``interval`` seconds."""
    follower = SpoolFollower(spool_dir, from_start=from_start, clock=clock)
    try:
        while True:
            yield from follower.poll()
            time.sleep(interval)
    finally:
        follower.close()


# --------------------------------------------------------------------------- lease databases
# Each parser returns the latest state per IP as dicts {mac, ip, hostname, expires, state}
# (mac None for a Kea declined address, hostname only if safe), sorted by IP. Unparseable
# entries are skipped: the lease table is a recovery source, a hook event stays authoritative.

DEFAULT_LEASE_FILES = {
    'kea': '/var/lib/kea/kea-leases4.csv',
    'dhcpd': '/var/lib/dhcp/dhcpd.leases',
    'dnsmasq': '/var/lib/misc/dnsmasq.leases',
}


def _lease(mac, ip, hostname, expires, state):
    return {'mac': mac, 'ip': ip, 'hostname': safe_hostname(hostname), 'state': state,
            'expires': None if expires is None else iso_time(expires)}


def _mac_or_none(value):
    try:
        return normalize_mac(value)
    except InvalidMac:
        return None


def _sorted_table(by_ip):
    return [by_ip[ip] for ip in sorted(by_ip, key=ipaddress.IPv4Address)]


def parse_kea_leases(texts, now):
    """Kea memfile CSV (texts: the files in load order). Last row per address wins;
    state 0 default, 1 declined, 2 expired-reclaimed. valid_lifetime 0 marks a deleted lease:
    Kea writes the same row for a release and for a reclaimed expiry, so it is reported as free
    (the hook's events tell the two apart)."""
    if isinstance(texts, str):
        texts = [texts]
    by_ip = {}
    for text in texts:
        columns = None
        for row in text.splitlines():
            cells = row.split(',')
            if cells and cells[0] == 'address':
                columns = {name: index for index, name in enumerate(cells)}
                continue
            if columns is None or len(cells) < len(columns) - 1:
                continue
            try:
                ip = normalize_ip(cells[columns['address']])
                valid = int(cells[columns['valid_lifetime']])
                expire = int(cells[columns['expire']])
                state_code = int(cells[columns['state']])
            except (InvalidIp, ValueError, KeyError, IndexError):
                continue
            hostname = cells[columns['hostname']] if 'hostname' in columns else ''
            mac = _mac_or_none(cells[columns['hwaddr']]) if 'hwaddr' in columns else None
            if valid == 0:
                state = 'free'
            elif state_code == 1:
                state = 'declined'
            elif state_code == 2 or expire <= now:
                state = 'expired'
            else:
                state = 'active'
            by_ip[ip] = _lease(mac, ip, hostname, expire, state)
    return _sorted_table(by_ip)


def _dhcpd_tokens(text):
    """Tokens of dhcpd.leases: words, quoted strings (unescaped), '{', '}', ';'."""
    tokens = []
    index, length = 0, len(text)
    while index < length:
        char = text[index]
        if char in ' \t\r\n':
            index += 1
        elif char == '#':
            end = text.find('\n', index)
            index = length if end < 0 else end
        elif char in '{};':
            tokens.append(char)
            index += 1
        elif char == '"':
            value = []
            index += 1
            while index < length and text[index] != '"':
                if text[index] == '\\' and index + 1 < length:
                    octal = re.match(r'[0-7]{3}', text[index + 1:index + 4])
                    if octal:
                        value.append(chr(int(octal.group(0), 8)))
                        index += 4
                        continue
                    index += 1
                value.append(text[index])
                index += 1
            tokens.append(('str', ''.join(value)))
            index += 1
        else:
            end = index
            while end < length and text[end] not in ' \t\r\n{};"#':
                end += 1
            tokens.append(text[index:end])
            index = end
    return tokens


def _dhcpd_time(words):
    """Epoch from 'ends 6 2026/11/28 06:40:08' / 'ends epoch 1795847938' words; None for never."""
    if words[:1] == ['epoch'] and len(words) > 1 and words[1].isdigit():
        return int(words[1])
    if len(words) >= 3:
        try:
            return calendar.timegm(time.strptime('%s %s' % (words[1], words[2]), '%Y/%m/%d %H:%M:%S'))
        except ValueError:
            return None
    return None


_DHCPD_STATES = {'active': 'active', 'free': 'free', 'released': 'released', 'expired': 'expired',
                 'abandoned': 'declined', 'backup': 'free', 'reset': 'free', 'bootp': 'active'}


def parse_dhcpd_leases(text, now):
    """ISC dhcpd.leases: append-only blocks, the last block per address wins."""
    tokens = _dhcpd_tokens(text)
    by_ip = {}
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == 'lease' and index + 2 < len(tokens) and tokens[index + 2] == '{':
            ip_token = tokens[index + 1]
            index += 3
            statements, depth, words = [], 1, []
            while index < len(tokens) and depth:
                item = tokens[index]
                index += 1
                if item == '{':
                    depth += 1
                elif item == '}':
                    depth -= 1
                elif item == ';' and depth == 1:
                    statements.append(words)
                    words = []
                elif depth == 1:
                    words.append(item)
            if depth:
                break  # a block cut off at the end of the file (dhcpd is writing it)
            lease = _dhcpd_lease(ip_token, statements, now)
            if lease:
                by_ip[lease['ip']] = lease
        else:
            index += 1
    return _sorted_table(by_ip)


def _dhcpd_lease(ip_token, statements, now):
    if not isinstance(ip_token, str):
        return None
    try:
        ip = normalize_ip(ip_token)
    except InvalidIp:
        return None
    mac = hostname = ends = None
    binding = 'free'
    for words in statements:
        if words[:1] == ['ends']:
            ends = _dhcpd_time(words[1:])
        elif words[:2] == ['binding', 'state'] and len(words) > 2:
            binding = words[2]
        elif words[:2] == ['hardware', 'ethernet'] and len(words) > 2:
            mac = _mac_or_none(words[2])
        elif words[:1] == ['client-hostname'] and len(words) > 1 and isinstance(words[1], tuple):
            hostname = words[1][1]
    state = _DHCPD_STATES.get(binding, 'free')
    if state == 'active' and ends is not None and ends <= now:
        state = 'expired'
    return _lease(mac, ip, hostname, ends, state)


def parse_dnsmasq_leases(text, now):
    """dnsmasq.leases: '<expiry epoch|0> <MAC> <IP> <hostname|*> <client-id|*>' per lease."""
    by_ip = {}
    for row in text.splitlines():
        cells = row.split(' ')
        if len(cells) < 4 or not cells[0].isdigit():
            continue  # also the 'duid ...' line and IPv6 rows' IAIDs fail below
        mac = _mac_or_none(cells[1])
        try:
            ip = normalize_ip(cells[2])
        except InvalidIp:
            continue
        if mac is None:
            continue
        expires = int(cells[0]) or None
        state = 'expired' if expires is not None and expires <= now else 'active'
        by_ip[ip] = _lease(mac, ip, None if cells[3] == '*' else cells[3], expires, state)
    return _sorted_table(by_ip)


def kea_lease_files(path):
    """Kea memfile files in the order Kea loads them: LFC output (.completed) or its inputs
    (.2, .1), then the file Kea appends to."""
    if os.path.exists(path + '.completed'):
        return [path + '.completed', path]
    return [path + '.2', path + '.1', path]


def read_lease_table(server, path=None, now=None):
    """The current lease table of ``server`` from its lease database at ``path``."""
    if server not in SERVERS:
        raise LeaseFileError('unknown DHCP server %r (expected one of %s)' % (server, ', '.join(SERVERS)))
    path = path or DEFAULT_LEASE_FILES[server]
    now = time.time() if now is None else now
    files = kea_lease_files(path) if server == 'kea' else [path]
    texts = []
    for name in files:
        try:
            with open(name, 'rb') as handle:
                texts.append(handle.read().decode('utf-8', 'replace'))
        except FileNotFoundError:
            if name == path:
                raise LeaseFileError('lease file %s does not exist' % path) from None
        except OSError as exc:
            raise LeaseFileError('cannot read lease file %s: %s' % (name, exc.strerror)) from None
    if server == 'kea':
        return parse_kea_leases(texts, now)
    if server == 'dhcpd':
        return parse_dhcpd_leases(texts[0], now)
    return parse_dnsmasq_leases(texts[0], now)
