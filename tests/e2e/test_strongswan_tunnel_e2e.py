# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""strongSwan can be tested here with real tunnels: charon 5.9 with kernel-libipsec (userspace ESP
over TUN; the test kernel has no ESP) in two network namespaces, IKEv2 with a virtual IP from a
pool, TCP through the tunnel, and the updown environment a presence hook would read. The
vpn_hook role does not cover strongSwan yet; this pins down what it will get.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_strongswan_tunnel_e2e.py   (root)
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from netns import wait_until
from vpn_lab import VpnLab

pytestmark = [pytest.mark.root, pytest.mark.slow,
              pytest.mark.skipif(not os.path.exists('/usr/lib/ipsec/plugins/libstrongswan-kernel-libipsec.so'),
                                 reason='needs charon with kernel-libipsec (libcharon-extra-plugins)')]

UPDOWN = '''#!/bin/sh
# records what charon passes to an updown script, one file per call
env | grep '^PLUTO_' > "%s/updown.$PLUTO_VERB.$$"
exit 0
'''


def updown_calls(directory, verb):
    calls = []
    for path in sorted(directory.glob('updown.%s.*' % verb)):
        calls.append(dict(line.split('=', 1) for line in path.read_text().splitlines() if '=' in line))
    return calls


def test_a_real_ipsec_tunnel_and_its_updown_environment(vpn_certificates):
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-strongswan-e2e-'))
    os.chmod(workdir, 0o755)
    try:
        with VpnLab(workdir / 'lab', vpn_certificates) as lab:
            updown = workdir / 'updown.sh'
            updown.write_text(UPDOWN % workdir)
            os.chmod(updown, 0o755)
            lab.start_strongswan(updown)
            virtual_ip = lab.strongswan_connect()
            assert virtual_ip.startswith('10.91.0.')
            lab.prove_tunnel(virtual_ip, lab.SERVER_IP)  # arrives from the virtual IP: through ESP
            up = wait_until(lambda: updown_calls(workdir, 'up-host'), 10, what='the up-host updown call')
            assert up[0]['PLUTO_PEER_ID'] == 'laptop-ss-01'
            assert up[0]['PLUTO_PEER_SOURCEIP'] == virtual_ip
            assert up[0]['PLUTO_PEER'] == lab.CLIENT_IP
            lab.swanctl('client', '--terminate', '--ike', 'home', '--timeout', '10')
            down = wait_until(lambda: updown_calls(workdir, 'down-host'), 10, what='the down-host updown call')
            assert (down[0]['PLUTO_PEER_ID'], down[0]['PLUTO_PEER_SOURCEIP']) == ('laptop-ss-01', virtual_ip)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
