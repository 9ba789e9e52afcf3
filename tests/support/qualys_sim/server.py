# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP front of the simulator: Qualys API paths plus the admin API under /_sim/ (see README.md)."""
from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

from .model import SimState

ADMIN_PREFIX = '/_sim/'


class _Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'Qualys'
    sys_version = ''

    def setup(self):
        super().setup()
        # Headers and body go out in two writes; without this, Nagle + delayed ACK add ~40 ms per call.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        """http.server's own log line would not name the action; see log_request_served."""

    def log_request_served(self, method, path, action, status):
        """One line per request when the simulator was started with a request log (the command line):
        method, path, action and status only. Never a header, a parameter value or the body, so neither
        the Authorization header nor the password it carries can reach the log."""
        stream = self.server.request_log
        if stream is not None:
            printable = ''.join(char if char.isprintable() and char != ' ' else '?' for char in path)
            stream.write('%s %s %s action=%s -> %s\n' % (self.log_date_time_string(), method, printable, action or '-', status))
            stream.flush()

    def _body(self):
        length = int(self.headers.get('Content-Length') or 0)
        return self.rfile.read(length) if length else b''

    def _send(self, status, body, content_type, headers=None):
        data = body.encode('utf-8') if isinstance(body, str) else body
        self.send_response(status)
        self.send_header('Content-Type', content_type)
        self.send_header('Content-Length', str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method):
        path, dummy, query = self.path.partition('?')
        body = self._body()
        if path.startswith(ADMIN_PREFIX):
            status = self._admin(method, path[len(ADMIN_PREFIX):].strip('/'), body)
            return self.log_request_served(method, path, None, status)
        response = self.server.state.handle(method, path, query, body, self.headers)
        action = _action_of(method, query, body)
        if response.drop:
            # The action was performed; the answer is lost on the way back.
            self.close_connection = True
            return self.log_request_served(method, path, action, 'dropped')
        self._send(response.status, response.body, response.content_type, response.headers)
        return self.log_request_served(method, path, action, response.status)

    def do_GET(self):  # noqa: N802 (BaseHTTPRequestHandler naming)
        self._handle('GET')

    def do_POST(self):  # noqa: N802
        self._handle('POST')

    def do_DELETE(self):  # noqa: N802
        self._handle('DELETE')

    def _admin(self, method, route, body):
        state = self.server.state
        try:
            payload = json.loads(body) if body else {}
            result = admin_call(state, method, route, payload)
        except (KeyError, ValueError, TypeError) as exc:
            self._send(400, json.dumps({'error': '%s: %s' % (type(exc).__name__, exc)}), 'application/json')
            return 400
        if result is None:
            self._send(404, json.dumps({'error': 'no admin route %s %s' % (method, route)}), 'application/json')
            return 404
        self._send(200, json.dumps(result), 'application/json')
        return 200


def _action_of(method, query, body):
    """The request's action parameter for the log, if it is a plain word (the client's text, so nothing else)."""
    params = dict(parse_qsl(query, keep_blank_values=True))
    if method == 'POST' and body:
        params.update(parse_qsl(body.decode('utf-8', 'replace'), keep_blank_values=True))
    action = params.get('action', '')
    return action if re.fullmatch(r'[A-Za-z0-9_]{1,32}', action) else ('?' if action else None)


def admin_call(state, method, route, payload):
    """Admin API; returns a JSON-able result, or None for an unknown route."""
    routes = {
        ('GET', 'state'): state.snapshot,
        ('POST', 'reset'): lambda: state.reset(payload.get('config')) or {'now': state.snapshot()['now']},
        ('POST', 'clock'): lambda: {'now': state.advance(payload.get('advance'), payload.get('set'))},
        ('POST', 'alive'): lambda: state.set_alive(payload.get('ips'), payload.get('all', False)) or {
            'alive': state.snapshot()['alive']},
        ('POST', 'scans'): lambda: {'scans': state.scan_action(payload.get('ref', '*'), payload['action'])},
        ('GET', 'faults'): lambda: {'faults': list(state.faults)},
        ('POST', 'faults'): lambda: {'fault': state.add_fault(**payload)},
        ('DELETE', 'faults'): lambda: state.faults.clear() or {'faults': []},
        ('POST', 'limits'): lambda: {'limits': state.set_limits(**payload)},
        ('POST', 'hosts'): lambda: state.seed_hosts(payload['hosts']) or {'hosts': len(state.hosts)},
        ('POST', 'config'): lambda: state.config.update(payload) or {'config': state.config},
        ('GET', 'calls'): lambda: {'calls': list(state.calls)},
        ('DELETE', 'calls'): lambda: state.calls.clear() or {'calls': []},
    }
    handler = routes.get((method, route))
    return handler() if handler else None


class QualysSimulator:
    """Start/stop a simulator on 127.0.0.1 in a background thread (pytest fixtures, benchmarks).

    ``sim.state`` is the same object the admin API drives, for in-process control. ``request_log``
    (a text stream) gets one line per request served; in-process users keep it off.
    """

    def __init__(self, host='127.0.0.1', port=0, username='roamscan_api', password='sim-password',
                 start_epoch=None, config=None, request_log=None):
        self._httpd = ThreadingHTTPServer((host, port), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.request_log = request_log
        bound_host, bound_port = self._httpd.server_address[:2]
        self.url = 'http://%s:%d' % (bound_host, bound_port)
        self.state = SimState(self.url, username, password, start_epoch, config)
        self._httpd.state = self.state
        self._thread = None

    @property
    def username(self):
        return self.state.username

    @property
    def password(self):
        return self.state.password

    def start(self):
        self._thread = threading.Thread(target=self._httpd.serve_forever, name='qualys-sim', daemon=True)
        self._thread.start()
        return self

    def serve_forever(self):
        self._httpd.serve_forever()

    def stop(self):
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
