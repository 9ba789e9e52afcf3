# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by tests/functional and tests/e2e (loaded with -p roamscan_fixtures)."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from redis_lab import RedisServer

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope='session')
def collections_dir(tmp_path_factory):
    """A collections path whose roamscan.qualys is this working tree (symlinked, so edits show)."""
    base = tmp_path_factory.mktemp('collections')
    namespace = base / 'ansible_collections' / 'roamscan'
    namespace.mkdir(parents=True)
    (namespace / 'qualys').symlink_to(COLLECTION_ROOT)
    return base


@pytest.fixture(scope='session')
def ansible_env(collections_dir, tmp_path_factory):
    """Environment for ansible-* subprocesses: this collection only, no user config, no stray caches."""
    home = tmp_path_factory.mktemp('ansible-home')
    env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'QUALYS_'))}
    env.update({
        'ANSIBLE_COLLECTIONS_PATH': str(collections_dir),
        'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false',
        'ANSIBLE_LOCAL_TEMP': str(home / 'tmp'),
        'ANSIBLE_HOME': str(home),
        'ANSIBLE_NOCOLOR': '1',
        'ANSIBLE_FORCE_COLOR': '0',
        'ANSIBLE_PYTHON_INTERPRETER': sys.executable,
        'ANSIBLE_RETRY_FILES_ENABLED': 'false',
        'PATH': '%s:%s' % (VENV_BIN, env.get('PATH', '/usr/bin:/bin')),
    })
    return env


@pytest.fixture(scope='session')
def run_ansible(ansible_env):
    """Run an ansible CLI tool from this venv; returns CompletedProcess (text)."""
    def _run(tool, *args, env=None, cwd=None, check=False, timeout=600):
        full_env = dict(ansible_env)
        full_env.update(env or {})
        exe = shutil.which(tool, path=full_env['PATH'])
        proc = subprocess.run([exe, *args], env=full_env, cwd=cwd, capture_output=True, text=True,
                              timeout=timeout, check=False)
        if check and proc.returncode != 0:
            raise AssertionError('%s %s failed (rc=%s)\nstdout:\n%s\nstderr:\n%s'
                                 % (tool, ' '.join(args), proc.returncode, proc.stdout, proc.stderr))
        return proc
    return _run


@pytest.fixture
def redis_server(tmp_path):
    """A started RedisServer (persistent, so that it can be restarted without loss)."""
    if not shutil.which('redis-server'):
        pytest.skip('redis-server is not installed')
    server = RedisServer(tmp_path, persist=True).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope='session')
def store_driver(ansible_env):
    """run(request, bypass_permissions=True) -> (exit status, answer): the laptop store API in its own process
    (tests/support/store_driver.py). ``bypass_permissions=False`` drops root's right to ignore file modes
    (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH) the way an unprivileged controller user lacks it."""
    driver = Path(__file__).resolve().parent / 'store_driver.py'

    def _run(request, bypass_permissions=True, env=None, timeout=300):
        full_env = dict(ansible_env, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='true')   # community.general from the ansible package
        full_env.update(env or {})
        command = [sys.executable, str(driver), json.dumps(request)]
        if not bypass_permissions:
            caps = '-dac_override,-dac_read_search'
            command = ['setpriv', '--bounding-set=%s' % caps, '--inh-caps=%s' % caps, *command]
        proc = subprocess.run(command, env=full_env, capture_output=True, text=True, timeout=timeout, check=False)
        try:
            answer = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            answer = {'stdout': proc.stdout, 'stderr': proc.stderr}
        return proc.returncode, answer
    return _run


@pytest.fixture(scope='session')
def built_collection(tmp_path_factory, run_ansible):
    """The artifact ``ansible-galaxy collection build`` makes of this working tree."""
    out = tmp_path_factory.mktemp('dist')
    run_ansible('ansible-galaxy', 'collection', 'build', str(COLLECTION_ROOT), '--output-path', str(out), check=True)
    return next(out.glob('roamscan-qualys-*.tar.gz'))


def pytest_collection_modifyitems(config, items):
    if os.geteuid() == 0:
        return
    skip_root = pytest.mark.skip(reason='needs root for network namespaces')
    for item in items:
        if 'root' in item.keywords:
            item.add_marker(skip_root)
