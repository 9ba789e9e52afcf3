# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real redis-server on loopback for tests and benchmarks (community.general.redis is the shared store)."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class RedisServer:
    """A real redis-server on 127.0.0.1 (stoppable and restartable on the same port and data directory).

    ``password``: requirepass (and masterauth, for a replica); ``tls``: ``(cert, key, ca)`` paths, then it listens
    with Redis's own TLS only (``--port 0 --tls-port``; clients need no certificate of their own);
    ``replica_of``: the RedisServer this one replicates.
    """

    def __init__(self, directory, persist=False, password=None, tls=None, replica_of=None):
        self.exe = shutil.which('redis-server')
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.persist = persist
        self.password = password
        self.tls = tls
        self.replica_of = replica_of
        self.proc = None

    @property
    def connection(self):
        """The community.general.redis connection string (``tls://`` for TLS)."""
        return '%s127.0.0.1:%d:0%s' % ('tls://' if self.tls else '', self.port, ':%s' % self.password if self.password else '')

    def start(self):
        # persist: every write is in the append-only file before redis answers, so a restart loses nothing
        durability = ['--appendonly', 'yes', '--appendfsync', 'always'] if self.persist else ['--appendonly', 'no']
        auth = ['--requirepass', self.password, '--masterauth', self.password] if self.password else []
        if self.tls:
            cert, key, ca = self.tls
            listen = ['--port', '0', '--tls-port', str(self.port), '--tls-cert-file', str(cert), '--tls-key-file', str(key),
                      '--tls-ca-cert-file', str(ca), '--tls-auth-clients', 'no']
        else:
            listen = ['--port', str(self.port)]
        replica = ['--replicaof', '127.0.0.1', str(self.replica_of.port)] if self.replica_of else []
        self.proc = subprocess.Popen([self.exe, '--bind', '127.0.0.1', *listen, '--save', '', '--dir', str(self.directory),
                                      *durability, *auth, *replica],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 'redis-server')
        return self

    def client(self):
        import redis  # pylint: disable=import-outside-toplevel
        if self.tls:
            return redis.Redis(host='127.0.0.1', port=self.port, password=self.password, ssl=True, ssl_ca_certs=str(self.tls[2]))
        return redis.Redis(host='127.0.0.1', port=self.port, password=self.password)

    def flush(self):
        """Drop every key (between benchmark sizes)."""
        self.client().flushall()

    def stop(self, signum=signal.SIGTERM):
        if self.proc is not None:
            self.proc.send_signal(signum)
            self.proc.wait(timeout=10)
            self.proc = None


class RedisSentinel:
    """A real redis-sentinel on 127.0.0.1 watching ``master`` (a RedisServer) as service ``name``: quorum 1, the
    master down after ``down_after_ms`` without an answer, then its most up-to-date replica promoted."""

    def __init__(self, directory, master, name='roamscan', down_after_ms=1000):
        self.exe = shutil.which('redis-sentinel')
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.name = name
        self.config = self.directory / 'sentinel.conf'   # sentinel rewrites it (the state after a failover)
        lines = ['port %d' % self.port, 'bind 127.0.0.1', 'dir %s' % self.directory,
                 'sentinel monitor %s 127.0.0.1 %d 1' % (name, master.port),
                 'sentinel down-after-milliseconds %s %d' % (name, down_after_ms),
                 'sentinel failover-timeout %s 10000' % name]
        if master.password:
            lines.append('sentinel auth-pass %s %s' % (name, master.password))
        self.config.write_text('\n'.join(lines) + '\n')
        os.chmod(self.config, 0o600)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.exe, str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 'redis-sentinel')
        return self

    def master_port(self):
        """The port of the master this sentinel names now."""
        import redis  # pylint: disable=import-outside-toplevel
        return int(redis.Redis(host='127.0.0.1', port=self.port).sentinel_get_master_addr_by_name(self.name)[1])

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def wait_for_port(port, what, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(('127.0.0.1', port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError('%s did not start on port %d' % (what, port))
