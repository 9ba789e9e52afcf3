# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real redis-server on loopback for tests and benchmarks (community.general.redis is the shared store)."""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class RedisServer:
    """A real redis-server on 127.0.0.1 (stoppable and restartable on the same port and data directory)."""

    def __init__(self, directory, persist=False, password=None):
        self.exe = shutil.which('redis-server')
        self.directory = Path(directory)
        self.port = free_port()
        self.persist = persist
        self.password = password
        self.proc = None

    @property
    def connection(self):
        return '127.0.0.1:%d:0%s' % (self.port, ':%s' % self.password if self.password else '')

    def start(self):
        # persist: every write is in the append-only file before redis answers, so a restart loses nothing
        durability = ['--appendonly', 'yes', '--appendfsync', 'always'] if self.persist else ['--appendonly', 'no']
        auth = ['--requirepass', self.password] if self.password else []
        self.proc = subprocess.Popen([self.exe, '--bind', '127.0.0.1', '--port', str(self.port), '--save', '',
                                      '--dir', str(self.directory), *durability, *auth],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError('redis-server did not start on port %d' % self.port)

    def flush(self):
        """Drop every key (between benchmark sizes)."""
        import redis  # pylint: disable=import-outside-toplevel
        redis.Redis(host='127.0.0.1', port=self.port, password=self.password).flushall()

    def stop(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None
