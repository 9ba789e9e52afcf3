# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Galaxy artifact holds the collection and nothing of a developer's working tree."""
from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import tarfile

import pytest
import yaml

from roamscan_fixtures import COLLECTION_ROOT

# What a developer's or CI's tree accumulates and must never ship.
JUNK = ['.ansible/collections/ansible_collections/x/y/galaxy.yml', '.venv/py312/pyvenv.cfg',
        'tests/output/junit/result.xml', 'plugins/module_utils/__pycache__/x.cpython-312.pyc',
        '.pytest_cache/v/cache/nodeids', 'bench/results/last.json']


def _tracked_files():
    out = subprocess.run(['git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard'],
                         cwd=COLLECTION_ROOT, capture_output=True, check=True).stdout
    return [p for p in out.decode().split('\0') if p and (COLLECTION_ROOT / p).is_file()]


def _ignored_by_build(path, patterns):
    parts = path.split('/')
    return any(fnmatch.fnmatch(path, pat) or any(fnmatch.fnmatch(part, pat) for part in parts)
               or path.startswith(pat.rstrip('/') + '/') for pat in patterns)


@pytest.fixture(scope='module')
def artifact(tmp_path_factory, run_ansible):
    """Build from a copy of the tree that also holds typical junk."""
    src = tmp_path_factory.mktemp('src') / 'qualys'
    for rel in _tracked_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(COLLECTION_ROOT / rel, src / rel)
    for rel in JUNK:
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text('junk\n')
    out = tmp_path_factory.mktemp('dist')
    run_ansible('ansible-galaxy', 'collection', 'build', str(src), '--output-path', str(out), check=True)
    tarballs = list(out.glob('roamscan-qualys-*.tar.gz'))
    assert len(tarballs) == 1, tarballs
    return tarballs[0]


def test_artifact_contains_collection_and_no_junk(artifact):
    with tarfile.open(artifact) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    for junk in JUNK:
        assert junk not in names
    assert not [n for n in names if '__pycache__' in n or n.startswith(('.ansible/', '.venv/', '.git/', 'tests/output/'))]
    build_ignore = yaml.safe_load((COLLECTION_ROOT / 'galaxy.yml').read_text())['build_ignore']
    expected = {p for p in _tracked_files() if not _ignored_by_build(p, build_ignore)} - {'galaxy.yml'}
    assert expected - names == set(), 'tracked files missing from the artifact'
    # galaxy.yml is rendered into MANIFEST.json; FILES.json carries the checksums.
    assert names - expected == {'MANIFEST.json', 'FILES.json'}
    with tarfile.open(artifact) as tar:
        manifest = json.load(tar.extractfile('MANIFEST.json'))
    assert manifest['collection_info']['namespace'] == 'roamscan'
    assert manifest['collection_info']['name'] == 'qualys'


# Folders only a developer of this collection uses; the README's demo and simulator run from a checkout.
DEVELOPER_ONLY = ('scripts/', 'requirements/', 'bench/', 'tests/', 'extensions/molecule/', '.ci/')
# What users run from the installed collection (playbooks by name, the role, the EDA rulebook and
# event source, the AWX examples and the documentation they point to).
USER_NEEDS = ('playbooks/scan_overdue.yml', 'playbooks/deploy_dhcp_hooks.yml', 'playbooks/coverage_report.yml',
              'roles/dhcp_hook/tasks/main.yml', 'roles/dhcp_hook/meta/argument_specs.yml',
              'extensions/eda/rulebooks/scan_arriving_laptops.yml', 'extensions/eda/plugins/event_source/dhcp_leases.py',
              'extensions/awx/project/collections/requirements.yml', 'extensions/awx/container_group_pod_spec.yml',
              'meta/runtime.yml', 'meta/execution-environment.yml', 'docs/variables.md', 'docs/awx.md', 'README.md', 'COPYING')


def test_artifact_ships_what_users_run_and_no_developer_folders(artifact):
    with tarfile.open(artifact) as tar:
        names = {m.name for m in tar.getmembers() if m.isfile()}
    assert [name for name in names if name.startswith(DEVELOPER_ONLY)] == []
    assert [name for name in USER_NEEDS if name not in names] == []


def test_artifact_installs_and_loads(artifact, tmp_path, run_ansible):
    target = tmp_path / 'installed'
    # The working tree is on the default collections path of these tests: point it at the target only.
    run_ansible('ansible-galaxy', 'collection', 'install', '--offline', '-p', str(target), str(artifact),
                env={'ANSIBLE_COLLECTIONS_PATH': str(target)}, check=True)
    runtime = target / 'ansible_collections' / 'roamscan' / 'qualys' / 'meta' / 'runtime.yml'
    assert runtime.is_file()
    proc = run_ansible('ansible-galaxy', 'collection', 'list', '--format', 'json',
                       env={'ANSIBLE_COLLECTIONS_PATH': str(target)}, check=True)
    listed = json.loads(proc.stdout)
    versions = {name: info['version'] for entries in listed.values() for name, info in entries.items()}
    galaxy = yaml.safe_load((COLLECTION_ROOT / 'galaxy.yml').read_text())
    assert versions.get('roamscan.qualys') == galaxy['version']
