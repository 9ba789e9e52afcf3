# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The presence receiver: an HTTP(S) service that writes accepted presence durably to an rs2 spool
before it answers 2xx.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: it runs on a collector host (roles/presence_receiver), not the controller.

Request: ``POST /v1/presence/<endpoint>`` (Bearer or HMAC) or ``POST /v1/presence/<endpoint>/<token>``
(path token, for Splunk's webhook action, which cannot set headers). Order of checks: route ->
Content-Length (411/413) -> header auth (401/403) -> rate (429) -> body read under the
connection deadline -> HMAC (401/403) -> parse (400) -> spool write + fsync (503 on failure) -> 200.
Durability: the records of one request are ONE O_APPEND write to <spool>/current followed by
fsync (and an fsync of the directory when current is new) before the answer. Each record carries
the alias ``eid`` (the event's key), and the keys are also appended to <state>/seen-ids, so a
retried event is answered 200 without a second write, also after a restart (the journal and the
spool files still present are read at start).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.server
import io
import json
import logging
import os
import re
import socket
import ssl
import sys
import threading
import time

from ansible_collections.roamscan.qualys.plugins.module_utils._presence_payloads import FORMATS, PayloadError, event_key, parse_body
from ansible_collections.roamscan.qualys.plugins.module_utils._spool import CURRENT_FILE, SEGMENT_PREFIX
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import BootClock, format_spool_record

AUTH_KINDS = ('path_token', 'bearer', 'hmac')
DEFAULTS = {'listen_address': '127.0.0.1', 'listen_port': 8780, 'max_body_bytes': 65536, 'request_timeout': 10.0,
            'max_connections': 64, 'dedup_window': 86400, 'tls_cert': None, 'tls_key': None,
            'tls_client_ca': None,
            'hmac_max_skew': 300}
ENDPOINT_DEFAULTS = {'rate': 10.0, 'burst': 50, 'field_map': {}, 'signature_header': 'X-Roamscan-Signature',
                     'timestamp_header': 'X-Roamscan-Timestamp', 'max_session': 43200}
SEEN_FILE = 'seen-ids'
_ROUTE = re.compile(r'/v1/presence/([A-Za-z0-9_-]{1,64})(?:/([^/?#]{1,512}))?/?')
_EID = re.compile(r'(?:^|,)eid=([0-9a-f]{24})(?:,|$)')
LOGGER = logging.getLogger('roamscan.presence_receiver')


class ConfigError(ValueError):
    """The receiver's configuration file is unusable."""


def load_config(path):
    """The validated configuration: DEFAULTS plus ``endpoints`` {name: {...}} with their secrets read."""
    try:
        with open(path) as handle:
            raw = json.load(handle)
    except (OSError, ValueError) as exc:
        raise ConfigError('cannot read configuration %s: %s' % (path, exc)) from None
    if not isinstance(raw, dict) or not isinstance(raw.get('endpoints'), dict) or not raw['endpoints']:
        raise ConfigError('%s: "endpoints" must be a non-empty mapping' % path)
    for key in ('spool_dir', 'state_dir'):
        if not isinstance(raw.get(key), str) or not os.path.isabs(raw[key]):
            raise ConfigError('%s: %s must be an absolute path' % (path, key))
    config = dict(DEFAULTS, **raw)
    if config['tls_client_ca'] and not config['tls_cert']:
        raise ConfigError('%s: tls_client_ca (client certificates) needs tls_cert and tls_key (HTTPS)' % path)
    endpoints = {}
    for name, item in raw['endpoints'].items():
        if not re.fullmatch(r'[A-Za-z0-9_-]{1,64}', name) or not isinstance(item, dict):
            raise ConfigError('endpoint %r: names are [A-Za-z0-9_-]{1,64} and map to settings' % (name,))
        endpoint = dict(ENDPOINT_DEFAULTS, **item)
        if endpoint.get('format') not in FORMATS or endpoint.get('auth') not in AUTH_KINDS:
            raise ConfigError('endpoint %s: format must be one of %s and auth one of %s'
                              % (name, ', '.join(FORMATS), ', '.join(AUTH_KINDS)))
        session = endpoint['max_session']
        if isinstance(session, bool) or not isinstance(session, int) or session < 1:
            raise ConfigError('endpoint %s: max_session must be a whole number of seconds, at least 1' % name)
        try:
            with open(endpoint['secret_file'], 'rb') as handle:
                secret = handle.read().strip()
        except (KeyError, TypeError, OSError) as exc:
            raise ConfigError('endpoint %s: cannot read secret_file: %s' % (name, exc)) from None
        if len(secret) < 16:
            raise ConfigError('endpoint %s: the secret must be at least 16 bytes' % name)
        endpoint['secret'] = secret
        endpoints[name] = endpoint
    config['endpoints'] = endpoints
    return config


class TokenBucket:
    """``rate`` requests per second with bursts of ``burst``; thread-safe."""

    def __init__(self, rate, burst):
        self.rate, self.burst = float(rate), float(burst)
        self.tokens, self.stamp = float(burst), time.monotonic()
        self.lock = threading.Lock()

    def take(self):
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return True
            return False


class SeenIds:
    """Event keys accepted within the dedup window: in memory, in the journal <state>/seen-ids
    (appended after the spool write), and recovered from the spool files present at start."""

    def __init__(self, state_dir, spool_dir, window, clock):
        self.path = os.path.join(state_dir, SEEN_FILE)
        self.window = window
        self.expiry = {}
        now = time.time()
        try:
            with open(self.path) as handle:
                for line in handle:
                    parts = line.split()
                    if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) > now:
                        self.expiry[parts[1]] = int(parts[0])
        except FileNotFoundError:
            pass
        self._recover(spool_dir, now + window)
        self._compact(now)
        self.handle = open(self.path, 'a')

    def _recover(self, spool_dir, until):
        """Keys of records the spool holds but the journal may have missed (crash between the two)."""
        names = [n for n in os.listdir(spool_dir) if n == CURRENT_FILE or n.startswith(SEGMENT_PREFIX)]
        for name in names:
            try:
                with open(os.path.join(spool_dir, name), 'rb') as handle:
                    for line in handle:
                        match = _EID.search(line.rsplit(b' ', 2)[-2].decode('ascii', 'replace')) if line.count(b' ') > 2 else None
                        if match:
                            self.expiry.setdefault(match.group(1), int(until))
            except OSError:
                continue

    def _compact(self, now):
        live = {key: stamp for key, stamp in self.expiry.items() if stamp > now}
        tmp = self.path + '.tmp'
        with open(tmp, 'w') as handle:
            handle.writelines('%d %s\n' % (stamp, key) for key, stamp in live.items())
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)
        self.expiry = live

    def known(self, key, now):
        stamp = self.expiry.get(key)
        return stamp is not None and stamp > now

    def add(self, keys, now):
        stamp = int(now + self.window)
        for key in keys:
            self.expiry[key] = stamp
        self.handle.write(''.join('%d %s\n' % (stamp, key) for key in keys))
        self.handle.flush()
        if len(self.expiry) > 100000:
            self.handle.close()
            self._compact(now)
            self.handle = open(self.path, 'a')


class DurableSpool:
    """Appends rs2 records to <spool>/current: one write and an fsync per batch."""

    def __init__(self, spool_dir, clock):
        self.spool_dir = spool_dir
        self.path = os.path.join(spool_dir, CURRENT_FILE)
        self.clock = clock
        self.inode = None

    def append(self, lines):
        data = ('\n' + ''.join(lines)).encode('ascii')
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, 'O_CLOEXEC', 0), 0o640)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
            inode = os.fstat(fd).st_ino
        finally:
            os.close(fd)
        if inode != self.inode:
            # a new current (first write, or a reader rotated it): make its name durable too
            directory = os.open(self.spool_dir, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)
            self.inode = inode


class Receiver:
    """Configuration plus the shared state of all request threads."""

    def __init__(self, config, log=LOGGER):
        self.config = config
        self.log = log
        self.clock = BootClock.current()
        if self.clock.current_boot is None:
            raise ConfigError('cannot read this boot\'s id and boot time from /proc')
        self.btime = self.clock.boots[self.clock.current_boot]
        self.spool = DurableSpool(config['spool_dir'], self.clock)
        self.seen = SeenIds(config['state_dir'], config['spool_dir'], config['dedup_window'], self.clock)
        self.buckets = {name: TokenBucket(e['rate'], e['burst']) for name, e in config['endpoints'].items()}
        self.write_lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(config['max_connections'])

    def record(self, item, key, max_session):
        """The rs2 line of an item; its time as uptime of this boot (older than the boot: None).

        A connect or sighting holds its IP for at most ``max_session`` seconds (EXPIRES ``+max_session``):
        posted presence has no live table, so without an end event nothing else bounds the holding."""
        uptime = item.time - self.btime
        if uptime < 0:
            return None
        aliases = dict(item.aliases)
        aliases['eid'] = key
        return format_spool_record('receiver', item.kind, item.id_value, item.ip, boot_id=self.clock.current_boot,
                                   uptime=uptime, pid=os.getpid(), id_kind=item.id_kind, aliases=aliases,
                                   expires=None if item.kind == 'disconnect' else '+%d' % max_session, version='rs2')

    def accept(self, name, endpoint, body):
        """(status, answer) for a body that passed authentication."""
        now = time.time()
        try:
            items, skipped = parse_body(endpoint, body, now)
        except PayloadError as exc:
            return 400, {'error': exc.reason, 'message': str(exc)}
        if not items:
            return 400, {'error': 'no_presence', 'accepted': 0, 'duplicates': 0, 'skipped': skipped}
        accepted, duplicates = 0, 0
        with self.write_lock:
            lines, keys = [], []
            for item in items:
                if item.time > now + 300:
                    skipped['in_future'] = skipped.get('in_future', 0) + 1
                    continue
                key = event_key(name, item.event_id) if item.event_id else hashlib.sha256(os.urandom(16)).hexdigest()[:24]
                if item.event_id and (self.seen.known(key, now) or key in keys):
                    duplicates += 1
                    continue
                line = self.record(item, key, endpoint['max_session'])
                if line is None:
                    skipped['before_boot'] = skipped.get('before_boot', 0) + 1
                    continue
                lines.append(line)
                if item.event_id:
                    keys.append(key)
            if lines:
                try:
                    self.spool.append(lines)
                except OSError as exc:
                    self.log.error('endpoint %s: spool write failed: %s', name, exc.strerror)
                    return 503, {'error': 'spool_unavailable'}
                self.seen.add(keys, now)
                accepted = len(lines)
        if not accepted and not duplicates:
            return 400, {'error': 'no_presence', 'accepted': 0, 'duplicates': 0, 'skipped': skipped}
        return 200, {'accepted': accepted, 'duplicates': duplicates, 'skipped': skipped}


class _DeadlineSocketIO(io.RawIOBase):
    """Socket reads that fail once the connection's deadline passes, however slowly bytes trickle in."""

    def __init__(self, sock, deadline):
        super().__init__()
        self.sock, self.deadline = sock, deadline

    def readable(self):
        return True

    def readinto(self, buffer):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout('request deadline passed')
        self.sock.settimeout(remaining)
        return self.sock.recv_into(buffer)


class Handler(http.server.BaseHTTPRequestHandler):
    """One request per connection; every answer is JSON; nothing secret is logged."""

    server_version = 'roamscan-presence-receiver'
    sys_version = ''
    protocol_version = 'HTTP/1.1'

    def setup(self):
        super().setup()
        timeout = self.server.receiver.config['request_timeout']
        self.rfile = io.BufferedReader(_DeadlineSocketIO(self.connection, time.monotonic() + timeout))

    def handle(self):
        self.close_connection = True
        try:
            self.handle_one_request()
        except (socket.timeout, ConnectionError):
            self.server.receiver.log.warning('client %s: dropped (too slow or gone)', self.client_address[0])
        except ssl.SSLError as exc:
            # no, an untrusted or a wrong client certificate (tls_client_ca), or no TLS at all: nothing was read
            self.server.receiver.log.warning('client %s: TLS handshake refused (%s)', self.client_address[0],
                                             exc.reason or exc.__class__.__name__)

    def log_request(self, code='-', size='-'):
        return  # the request line holds path tokens; answer() logs what is safe

    def log_error(self, format, *args):  # pylint: disable=redefined-builtin
        self.server.receiver.log.warning('client %s: bad request (%s)', self.client_address[0], args[0] if args else '')

    def answer(self, status, body, endpoint='-', extra=None):
        data = (json.dumps(body, sort_keys=True) + '\n').encode('ascii')
        self.send_response_only(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.send_header('Connection', 'close')
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.server.receiver.log.info('client %s endpoint %s: %d %s', self.client_address[0], endpoint, status,
                                      body.get('error') or 'accepted=%s duplicates=%s' % (body.get('accepted'), body.get('duplicates')))

    def do_GET(self):
        self.answer(405, {'error': 'method_not_allowed'}, extra={'Allow': 'POST'})

    def do_POST(self):
        receiver = self.server.receiver
        route = _ROUTE.fullmatch(self.path.split('?', 1)[0])
        endpoint = receiver.config['endpoints'].get(route.group(1)) if route else None
        if endpoint is None:
            return self.answer(404, {'error': 'unknown_endpoint'})
        name = route.group(1)
        if self.headers.get('Transfer-Encoding'):
            return self.answer(411, {'error': 'length_required'}, name)
        try:
            length = int(self.headers.get('Content-Length', ''))
        except ValueError:
            return self.answer(411, {'error': 'length_required'}, name)
        if length < 0:
            return self.answer(400, {'error': 'bad_length'}, name)
        if length > receiver.config['max_body_bytes']:
            return self.answer(413, {'error': 'body_too_large', 'limit': receiver.config['max_body_bytes']}, name)
        status = self.header_auth(endpoint, route.group(2))
        if status:
            return self.answer(status, {'error': 'unauthorized' if status == 401 else 'forbidden'}, name)
        if not receiver.buckets[name].take():
            return self.answer(429, {'error': 'rate_limited'}, name, {'Retry-After': '1'})
        body = self.rfile.read(length)
        if len(body) != length:
            return self.answer(400, {'error': 'short_body'}, name)
        if endpoint['auth'] == 'hmac':
            status = self.hmac_auth(endpoint, body)
            if status:
                return self.answer(status, {'error': 'unauthorized' if status == 401 else 'forbidden'}, name)
        status, answer = receiver.accept(name, endpoint, body)
        return self.answer(status, answer, name)

    def header_auth(self, endpoint, path_token):
        """None when the request may go on, else 401 (no credential) or 403 (a wrong one)."""
        secret = endpoint['secret']
        if endpoint['auth'] == 'path_token':
            if path_token is None:
                return 401
            return None if hmac.compare_digest(path_token.encode('utf-8', 'surrogateescape'), secret) else 403
        if path_token is not None:
            return 403  # a token in the URL of a header-authenticated endpoint is a mistake or a probe
        if endpoint['auth'] == 'bearer':
            value = self.headers.get('Authorization', '')
            if not value.startswith('Bearer '):
                return 401
            return None if hmac.compare_digest(value[7:].strip().encode('utf-8', 'surrogateescape'), secret) else 403
        return None  # hmac: checked once the body is read

    def hmac_auth(self, endpoint, body):
        """HMAC-SHA256 over ``TIMESTAMP.BODY`` (hex or base64, optional ``sha256=`` prefix); the
        timestamp (epoch seconds) must be within hmac_max_skew of this host's clock."""
        signature = self.headers.get(endpoint['signature_header'], '').strip()
        stamp = self.headers.get(endpoint['timestamp_header'], '').strip()
        if not signature or not stamp:
            return 401
        if not stamp.isdigit() or abs(time.time() - int(stamp)) > self.server.receiver.config['hmac_max_skew']:
            return 403
        if signature.startswith('sha256='):
            signature = signature[7:]
        digest = hmac.new(endpoint['secret'], stamp.encode('ascii') + b'.' + body, hashlib.sha256).digest()
        given = signature.encode('ascii', 'replace')
        matches = hmac.compare_digest(given, digest.hex().encode('ascii'))
        matches = hmac.compare_digest(given, base64.b64encode(digest)) or matches
        return None if matches else 403


def tls_context(config):
    """The server's TLS context (None: plain HTTP); raises OSError or ssl.SSLError for unusable files."""
    if not config['tls_cert']:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(config['tls_cert'], config['tls_key'])
    if config['tls_client_ca']:
        # mutual TLS: only clients with a certificate this CA signed get as far as the endpoint's own auth
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_verify_locations(cafile=config['tls_client_ca'])
    return context


class ReceiverServer(http.server.ThreadingHTTPServer):
    """A thread per connection, at most max_connections at once (more are closed at once)."""

    daemon_threads = True
    request_queue_size = 128

    def __init__(self, receiver):
        self.receiver = receiver
        config = receiver.config
        super().__init__((config['listen_address'], int(config['listen_port'])), Handler)
        context = tls_context(config)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True, do_handshake_on_connect=False)

    def process_request(self, request, client_address):
        if not self.receiver.slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request, client_address):
        try:
            request.settimeout(self.receiver.config['request_timeout'])
            super().process_request_thread(request, client_address)
        finally:
            self.receiver.slots.release()


def main(argv=None):
    """``roamscan-presence-receiver [--check] CONFIG.json``: serve until SIGTERM, or only validate."""
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(message)s', stream=sys.stderr)
    check = argv[:1] == ['--check']
    argv = argv[1:] if check else argv
    if len(argv) != 1:
        sys.stderr.write('usage: roamscan-presence-receiver [--check] CONFIG.json\n')
        return 2
    if check:
        try:
            config = load_config(argv[0])
        except ConfigError as exc:
            LOGGER.error('%s', exc)
            return 1
        for key in ('spool_dir', 'state_dir'):
            if not os.path.isdir(config[key]):
                LOGGER.error('%s %s is not a directory', key, config[key])
                return 1
        try:
            tls_context(config)
        except (OSError, ssl.SSLError) as exc:
            LOGGER.error('TLS files (tls_cert, tls_key, tls_client_ca) unusable: %s', exc)
            return 1
        LOGGER.info('configuration %s: %d endpoint(s), valid', argv[0], len(config['endpoints']))
        return 0
    try:
        server = ReceiverServer(Receiver(load_config(argv[0])))
    except (ConfigError, OSError, ssl.SSLError) as exc:
        LOGGER.error('cannot start: %s', exc)
        return 1
    LOGGER.info('listening on %s:%d', *server.server_address[:2])
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
