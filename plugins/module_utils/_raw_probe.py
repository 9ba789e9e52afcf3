# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Non-blocking ARP, ICMP echo and TCP SYN rounds over many addresses at once, paced.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (``socket``, AF_PACKET): it runs on probe hosts. ARP and ICMP need
CAP_NET_RAW. Every socket is bound to one interface, so nothing leaves by another one.
Callers check their targets against the allow-list (_allow_list.py) before calling a round.

Each round sends at most ``1 + retries`` packets per address (TCP: one SYN per address and
port), no faster than ``rate`` packets per second, and returns ``(answers, packets_sent)``.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import select
import socket
import struct
import time

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
PACKET_OUTGOING = 4
SIOCGIFADDR = 0x8915
SIOCGIFNETMASK = 0x891b
SIOCGIFHWADDR = 0x8927
BROADCAST = b'\xff' * 6
# After every address answered, listen this long for a second, conflicting answer.
CONFLICT_GRACE = 0.05
SO_RCVBUFFORCE = 33
RECEIVE_BUFFER = 4 * 1024 * 1024
# At most this many TCP connection attempts in flight (file descriptors are limited).
TCP_IN_FLIGHT = 256
# The options every active probe module takes (doc fragment roamscan.qualys.probe).
PROBE_ARGUMENT_SPEC = dict(
    interface=dict(type='str', required=True),
    allow=dict(type='list', elements='str', required=True),
    rate=dict(type='int', default=1000),
    retries=dict(type='int', default=1),
    wait=dict(type='float', default=0.4),
)


def probe_settings_error(params):
    """The message for out-of-range pacing options, or None."""
    if not 1 <= params['rate'] <= 100000:
        return 'rate must be 1-100000 packets per second'
    if not 0 <= params['retries'] <= 5:
        return 'retries must be 0-5'
    if not 0 < params['wait'] <= 10:
        return 'wait must be more than 0 and at most 10 seconds'
    return None


class ProbeError(Exception):
    """The probe could not run (no such interface, no privilege for raw sockets)."""


def _mac_text(raw):
    return ':'.join('%02x' % octet for octet in raw)


def interface_info(name):
    """``(mac, ip, network)`` of an interface; ip and network are None when it has no IPv4 address."""
    request = struct.pack('256s', name.encode()[:15])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        try:
            mac = _mac_text(fcntl.ioctl(handle, SIOCGIFHWADDR, request)[18:24])
        except OSError as exc:
            raise ProbeError('interface %s: %s' % (name, os.strerror(exc.errno))) from None
        try:
            ip = socket.inet_ntoa(fcntl.ioctl(handle, SIOCGIFADDR, request)[20:24])
            mask = socket.inet_ntoa(fcntl.ioctl(handle, SIOCGIFNETMASK, request)[20:24])
        except OSError:
            return mac, None, None
    return mac, ip, ipaddress.IPv4Network('%s/%s' % (ip, mask), strict=False)


def _raw_socket(family, kind, proto, interface):
    try:
        handle = socket.socket(family, kind, proto)
    except PermissionError:
        raise ProbeError('raw sockets need CAP_NET_RAW (run the module as root: become)') from None
    try:
        if family == socket.AF_PACKET:
            handle.bind((interface, proto))
        else:
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        handle.setblocking(False)
        _grow_receive_buffer(handle)
    except OSError as exc:
        handle.close()
        raise ProbeError('interface %s: %s' % (interface, os.strerror(exc.errno or errno.EINVAL))) from None
    return handle


def _grow_receive_buffer(handle):
    """Room for a burst of answers (hundreds of targets answering within milliseconds)."""
    try:
        handle.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RECEIVE_BUFFER)
    except OSError:
        handle.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)


class _Pacer:
    """Sends no faster than ``rate`` per second; while it waits, it lets ``receive`` read answers."""

    def __init__(self, rate, receive, clock=time.monotonic):
        self.interval = 1.0 / rate
        self.receive = receive
        self.clock = clock
        self.next_at = clock()
        self.sent = 0

    def send(self, transmit):
        while self.clock() < self.next_at:
            self.receive(self.next_at - self.clock())
        transmit()
        self.sent += 1
        self.receive(0)   # answers arrive while sending; read them before the socket buffer fills
        self.next_at = max(self.next_at, self.clock()) + self.interval

    def listen(self, seconds, done):
        deadline = self.clock() + seconds
        while not done() and self.clock() < deadline:
            self.receive(deadline - self.clock())


def _rounds(pacer, addresses, answers, transmit, retries, wait):
    """Send to every address without an answer, then listen ``wait`` s; up to ``1 + retries`` passes."""
    for dummy in range(1 + retries):
        silent = [ip for ip in addresses if ip not in answers]
        if not silent:
            break
        for ip in silent:
            pacer.send(lambda ip=ip: transmit(ip))
        pacer.listen(wait, lambda: all(ip in answers for ip in addresses))
    if answers:
        pacer.listen(CONFLICT_GRACE, lambda: False)


def arp_frame(source_mac, source_ip, target_ip):
    """A broadcast ARP who-has ``target_ip``; ``source_ip`` None sends an ARP probe (sender 0.0.0.0)."""
    sender = bytes.fromhex(source_mac.replace(':', ''))
    return (BROADCAST + sender + struct.pack('!H', ETH_P_ARP)
            + struct.pack('!HHBBH', 1, ETH_P_IP, 6, 4, 1) + sender + socket.inet_aton(source_ip or '0.0.0.0')
            + b'\0' * 6 + socket.inet_aton(target_ip))


def parse_arp_reply(frame):
    """``(sender_ip, sender_mac)`` of an ARP reply frame, else None."""
    if len(frame) < 42 or frame[12:14] != b'\x08\x06':
        return None
    htype, ptype, hlen, plen, operation = struct.unpack('!HHBBH', frame[14:22])
    if (htype, ptype, hlen, plen, operation) != (1, ETH_P_IP, 6, 4, 2):
        return None
    return socket.inet_ntoa(frame[28:32]), _mac_text(frame[22:28])


def arp_round(interface, addresses, rate, retries, wait):
    """ARP who-has every address on ``interface``: ``({ip: [mac, ...]}, sent)``, all MACs that answered."""
    mac, ip, dummy = interface_info(interface)
    wanted = set(addresses)
    answers = {}
    with _raw_socket(socket.AF_PACKET, socket.SOCK_RAW, ETH_P_ARP, interface) as handle:
        def receive(timeout):
            if not select.select([handle], [], [], max(timeout, 0))[0]:
                return
            while True:
                try:
                    frame, where = handle.recvfrom(128)
                except BlockingIOError:
                    return
                reply = parse_arp_reply(frame) if where[2] != PACKET_OUTGOING else None
                if reply and reply[0] in wanted:
                    seen = answers.setdefault(reply[0], [])
                    if reply[1] not in seen:
                        seen.append(reply[1])

        pacer = _Pacer(rate, receive)
        _rounds(pacer, list(addresses), answers, lambda target: handle.send(arp_frame(mac, ip, target)), retries, wait)
    return answers, pacer.sent


def _checksum(data):
    if len(data) % 2:
        data += b'\0'
    total = sum(struct.unpack('!%dH' % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xffff)
    total += total >> 16
    return ~total & 0xffff


def echo_request(identifier, sequence):
    payload = b'roamscan-liveness'
    header = struct.pack('!BBHHH', 8, 0, 0, identifier, sequence)
    return struct.pack('!BBHHH', 8, 0, _checksum(header + payload), identifier, sequence) + payload


def parse_echo_reply(packet, identifier):
    """True when ``packet`` (an IPv4 datagram) is an echo reply carrying ``identifier``."""
    if len(packet) < 20:
        return False
    start = (packet[0] & 0x0f) * 4
    if len(packet) < start + 8:
        return False
    kind, code, dummy, ident = struct.unpack('!BBHH', packet[start:start + 6])
    return kind == 0 and code == 0 and ident == identifier


def icmp_round(interface, addresses, rate, retries, wait):
    """ICMP echo to every address, out of ``interface`` only: ``({ip: True}, sent)``."""
    identifier = (os.getpid() ^ int(time.time() * 1000)) & 0xffff
    wanted = set(addresses)
    answers = {}
    with _raw_socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP, interface) as handle:
        def receive(timeout):
            if not select.select([handle], [], [], max(timeout, 0))[0]:
                return
            while True:
                try:
                    packet, where = handle.recvfrom(2048)
                except BlockingIOError:
                    return
                if where[0] in wanted and parse_echo_reply(packet, identifier):
                    answers[where[0]] = True

        def transmit(target):
            try:
                handle.sendto(echo_request(identifier, 1), (target, 0))
            except OSError:
                pass  # no route: no answer
        pacer = _Pacer(rate, receive)
        _rounds(pacer, list(addresses), answers, transmit, retries, wait)
    return answers, pacer.sent


def tcp_round(interface, addresses, ports, rate, wait):
    """One SYN to every (address, port), out of ``interface`` only: ``({ip: port}, sent)``.

    A connection accepted or refused (the host sent SYN-ACK or RST) proves the host is up;
    connections are reset at once, nothing is sent on them.
    """
    answers = {}
    attempts = [(ip, port) for ip in addresses for port in ports]
    in_flight = {}
    poller = select.poll()
    deadline_of = {}

    def finish(fd, alive):
        handle, ip, port = in_flight.pop(fd)
        poller.unregister(fd)
        if alive and ip not in answers:
            answers[ip] = port
        handle.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
        handle.close()

    def receive(timeout):
        for fd, dummy in poller.poll(max(int(timeout * 1000), 0)):
            if fd in in_flight:
                code = in_flight[fd][0].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                finish(fd, code in (0, errno.ECONNREFUSED))
        now = time.monotonic()
        for fd in [fd for fd in in_flight if deadline_of[fd] <= now]:
            finish(fd, False)

    def transmit(target):
        ip, port = target
        while len(in_flight) >= TCP_IN_FLIGHT:
            receive(0.01)
        handle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            handle.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, interface.encode())
        except OSError as exc:
            handle.close()
            raise ProbeError('interface %s: %s' % (interface, os.strerror(exc.errno or errno.EINVAL))) from None
        handle.setblocking(False)
        code = handle.connect_ex((ip, port))
        in_flight[handle.fileno()] = (handle, ip, port)
        deadline_of[handle.fileno()] = time.monotonic() + wait
        poller.register(handle.fileno(), select.POLLOUT)
        if code not in (errno.EINPROGRESS, 0):
            finish(handle.fileno(), code == errno.ECONNREFUSED)

    pacer = _Pacer(rate, receive)
    try:
        for attempt in attempts:
            if attempt[0] not in answers:
                pacer.send(lambda attempt=attempt: transmit(attempt))
        pacer.listen(wait, lambda: not in_flight)
    finally:
        for fd in list(in_flight):
            finish(fd, False)
    return answers, pacer.sent
