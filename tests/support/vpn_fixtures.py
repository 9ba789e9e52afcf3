# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the VPN tests (loaded with -p vpn_fixtures): one set of certificates per run."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from vpn_lab import VpnCertificates, VpnLab

LAPTOP_CN = 'laptop-vpn-01'
# Certificate names a hostile client could get signed; OpenVPN passes them on (remapping only
# control characters and a few others to '_'), so they reach the hook.
HOSTILE_CNS = ('$(touch pwned)', "q'u\"o`touch pwned`te;x", 'tab\tand\nnewline;touch pwned',
               'sp ace,comma=eq%pct', 'x' * 64)


@pytest.fixture(scope='session')
def vpn_certificates():
    """CA, server certificate (SAN = the lab's server address) and client certificates for
    LAPTOP_CN, 'laptop-vpn-02' and HOSTILE_CNS, made once per session with openssl."""
    directory = Path(tempfile.mkdtemp(prefix='roamscan-vpn-pki-'))
    os.chmod(directory, 0o755)
    yield VpnCertificates(directory, VpnLab.SERVER_IP, (LAPTOP_CN, 'laptop-vpn-02') + HOSTILE_CNS)
    shutil.rmtree(directory, ignore_errors=True)
