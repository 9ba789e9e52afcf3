# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The real presence receiver (the role's script, run from this tree) on loopback, stopped by PID.

ReceiverLab writes a configuration with one endpoint per auth kind and format, starts
roles/presence_receiver/files/roamscan-presence-receiver as a subprocess, and reads its spool
back with the collection's own spool reader.
"""
from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / 'roles' / 'presence_receiver' / 'files' / 'roamscan-presence-receiver'
SECRETS = {
    'splunk': 'splunk-path-token-0123456789abcdef',
    'ndjson': 'bearer-token-fedcba9876543210',
    'signed': 'hmac-secret-00112233445566778899',
    'nac': 'nac-bearer-token-aabbccddeeff0011',
    'syslog': 'syslog-ng-bearer-token-1234567890',
    'flood': 'flood-bearer-token-0123456789abcd',
    'splunk_sessions': 'splunk-sessions-token-0123456789ab',
}
ENDPOINTS = {
    'splunk': {'format': 'splunk', 'auth': 'path_token',
               'field_map': {'ip_field': 'src_ip', 'identity_field': 'user', 'identity_kind': 'vpn_user',
                             'alias_fields': {'mac': 'src_mac'}}},
    'ndjson': {'format': 'ndjson', 'auth': 'bearer'},
    'signed': {'format': 'ndjson', 'auth': 'hmac'},
    'nac': {'format': 'nac', 'auth': 'bearer'},
    'syslog': {'format': 'syslog', 'auth': 'bearer'},
    'flood': {'format': 'ndjson', 'auth': 'bearer', 'rate': 1, 'burst': 3},
    # a Splunk search whose rows say whether a session started or ended (field "action"), sessions of at most 2 h
    'splunk_sessions': {'format': 'splunk', 'auth': 'path_token', 'max_session': 7200,
                        'field_map': {'ip_field': 'src_ip', 'identity_field': 'user', 'identity_kind': 'vpn_user',
                                      'event_field': 'action'}},
}


def free_port(address='127.0.0.1'):
    with socket.socket() as probe:
        probe.bind((address, 0))
        return probe.getsockname()[1]


def _module_utils():
    sys.path.insert(0, str(ROOT / 'plugins' / 'module_utils'))
    import _standalone_loader  # pylint: disable=import-outside-toplevel
    _standalone_loader.install(str(ROOT / 'plugins' / 'module_utils'))
    sys.path.pop(0)
    from ansible_collections.roamscan.qualys.plugins.module_utils import _spool  # pylint: disable=import-outside-toplevel
    return _spool


class ReceiverLab:
    def __init__(self, base, address='127.0.0.1', port=None, max_body_bytes=65536, request_timeout=3.0,
                 python=sys.executable, tls=None, tls_client_ca=None):
        self.base = Path(base)
        self.address = address
        self.port = port or free_port(address)
        self.spool_dir = self.base / 'spool'
        self.state_dir = self.base / 'state'
        self.log_path = self.base / 'receiver.log'
        self.config_path = self.base / 'receiver.json'
        self.python = python
        self.process = None
        self.tls = tls  # (certificate file, key file) or None
        for directory in (self.spool_dir, self.state_dir, self.base / 'secrets'):
            directory.mkdir(parents=True, exist_ok=True)
        endpoints = {}
        for name, settings in ENDPOINTS.items():
            secret_file = self.base / 'secrets' / name
            secret_file.write_text(SECRETS[name] + '\n')
            secret_file.chmod(0o600)
            endpoints[name] = dict(settings, secret_file=str(secret_file))
        self.config_path.write_text(json.dumps({
            'listen_address': address, 'listen_port': self.port, 'spool_dir': str(self.spool_dir),
            'state_dir': str(self.state_dir), 'max_body_bytes': max_body_bytes,
            'request_timeout': request_timeout, 'endpoints': endpoints,
            'tls_cert': tls and str(tls[0]), 'tls_key': tls and str(tls[1]),
            'tls_client_ca': tls_client_ca and str(tls_client_ca)}))

    def start(self, wrapper=()):
        """Start the receiver (``wrapper``: e.g. ``ip netns exec NS``); returns once it listens."""
        self._log = open(self.log_path, 'ab')
        self.process = subprocess.Popen([*wrapper, self.python, str(SCRIPT), str(self.config_path)],
                                        stdout=self._log, stderr=subprocess.STDOUT)
        started = self.log_path.read_text().count('listening on')
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError('receiver exited: %s' % self.log_path.read_text())
            if self.log_path.read_text().count('listening on') > started:
                return self
            time.sleep(0.05)
        raise RuntimeError('receiver did not listen: %s' % self.log_path.read_text())

    def stop(self, sig=signal.SIGTERM):
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, sig)
            self.process.wait(timeout=10)
        self.process = None
        if getattr(self, '_log', None):
            self._log.close()
            self._log = None

    def post(self, path, body, headers=None, timeout=10):
        """(status, JSON answer) of one POST with http.client."""
        if self.tls:
            context = ssl.create_default_context(cafile=str(self.tls[0]))
            connection = http.client.HTTPSConnection(self.address, self.port, timeout=timeout, context=context)
        else:
            connection = http.client.HTTPConnection(self.address, self.port, timeout=timeout)
        try:
            data = body if isinstance(body, bytes) else body.encode('utf-8')
            connection.request('POST', path, body=data, headers=dict({'Content-Type': 'application/json'}, **(headers or {})))
            response = connection.getresponse()
            text = response.read()
            return response.status, json.loads(text) if text else None
        finally:
            connection.close()

    def bearer(self, name):
        return {'Authorization': 'Bearer ' + SECRETS[name]}

    def signed(self, body, stamp=None, secret=None):
        stamp = str(int(time.time()) if stamp is None else stamp)
        key = (secret or SECRETS['signed']).encode()
        digest = hmac.new(key, stamp.encode() + b'.' + body, hashlib.sha256).hexdigest()
        return {'X-Roamscan-Timestamp': stamp, 'X-Roamscan-Signature': 'sha256=' + digest}

    def spool_lines(self):
        """Every complete rs2 line in the spool files (current and segments), in file order."""
        lines = []
        for path in sorted(self.spool_dir.glob('seg.*')) + [self.spool_dir / 'current']:
            if path.exists():
                lines.extend(line for line in path.read_text().split('\n') if line.startswith('rs2 '))
        return lines

    def read_spool(self):
        """The records as the controller's reader module gets them (rotate + read, no ack)."""
        spool = _module_utils()
        batch, _removed, _changed = spool.Spool(str(self.spool_dir)).collect()
        return batch.records
