# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Expensive real servers shared by the whole e2e session."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from samba_dc import SambaDc


@pytest.fixture(scope='session')
def samba_dc(run_ansible):
    """One Samba AD DC per session: provisioned offline, audit configured by the dc_audit role
    (real ansible-playbook under the DC's own path prefix), started in its own namespace."""
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-samba-'))
    os.chmod(workdir, 0o755)
    dc = SambaDc(workdir)
    try:
        dc.provision()
        (dc.target / 'etc' / 'logrotate.d').mkdir(parents=True)
        playbook = workdir / 'dc-audit.yml'
        playbook.write_text(json.dumps([{'hosts': 'localhost', 'gather_facts': False,
                                         'roles': [{'role': 'roamscan.qualys.dc_audit'}]}]))
        variables = {'dc_audit_root': str(dc.target), 'dc_audit_smb_conf': '/etc/smb.conf', 'dc_audit_manage_service': False}
        proc = run_ansible('ansible-playbook', '-i', 'localhost,', '-c', 'local', str(playbook), '-e', json.dumps(variables))
        assert proc.returncode == 0, proc.stdout[-4000:]
        dc.create_namespace()
        dc.start()
        yield dc
    finally:
        dc.close()
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def small_fs(tmp_path):
    """A 2 MiB tmpfs of this test's own (unmounted afterwards)."""
    mount_point = tmp_path / 'store-fs'
    mount_point.mkdir()
    subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=2m,mode=0700', 'tmpfs', str(mount_point)], check=True)
    try:
        yield mount_point
    finally:
        subprocess.run(['umount', '-l', str(mount_point)], check=False)
