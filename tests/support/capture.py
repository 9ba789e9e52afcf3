# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every frame that crosses any interface of a network namespace, captured with an AF_PACKET socket (root).

    with Capture(workdir, namespace) as capture:
        ...                                    # run the probe
    frames = capture.frames()                  # [{ifname, outgoing, data: bytes}]

The capture runs in its own process inside the namespace (started and stopped by PID), so it sees
what the namespace's interfaces send, whoever sends it.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from netns import wait_until

CAPTURE_SCRIPT = r'''
import json, os, select, signal, socket, sys
out, ready = sys.argv[1], sys.argv[2]
handle = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
frames, running = [], [True]
signal.signal(signal.SIGTERM, lambda *a: running.__setitem__(0, False))
open(ready, 'w').close()
while running[0]:
    try:
        if select.select([handle], [], [], 0.05)[0]:
            data, where = handle.recvfrom(2048)
            frames.append({'ifname': where[0], 'outgoing': where[2] == 4, 'data': data[:64].hex()})
    except InterruptedError:
        pass
with open(out, 'w') as handle_out:
    json.dump(frames, handle_out)
'''

ARP = bytes.fromhex('0806')
IPV4 = bytes.fromhex('0800')


class Capture:
    def __init__(self, workdir, namespace):
        self.workdir = Path(workdir)
        self.namespace = namespace
        self.out = self.workdir / ('capture-%s.json' % os.urandom(4).hex())
        self.ready = self.out.with_suffix('.ready')
        self.process = None
        self._frames = None

    def __enter__(self):
        self.process = subprocess.Popen(['ip', 'netns', 'exec', self.namespace, sys.executable, '-c', CAPTURE_SCRIPT,
                                         str(self.out), str(self.ready)], stdin=subprocess.DEVNULL)
        wait_until(self.ready.exists, 10, what='capture ready in %s' % self.namespace)
        return self

    def __exit__(self, *exc):
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        text = self.out.read_text() if self.out.exists() else '[]'
        self._frames = [dict(item, data=bytes.fromhex(item['data'])) for item in json.loads(text)]

    def frames(self):
        return list(self._frames)


def arp_requests_from(frames, mac):
    """``[(ifname, target ip)]`` of the ARP who-has frames sent with source MAC ``mac``."""
    source = bytes.fromhex(mac.replace(':', ''))
    return [(item['ifname'], socket.inet_ntoa(item['data'][38:42])) for item in frames
            if item['data'][6:12] == source and item['data'][12:14] == ARP and item['data'][20:22] == b'\x00\x01']


def ipv4_and_arp_from(frames, mac):
    """The ARP and IPv4 frames (all a probe can send) with source MAC ``mac``; the kernel's own IPv6
    router solicitations are not the probe's."""
    source = bytes.fromhex(mac.replace(':', ''))
    return [item for item in frames if item['data'][6:12] == source and item['data'][12:14] in (ARP, IPV4)]
