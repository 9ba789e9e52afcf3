# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An execution environment naming this collection gets its Python and system requirements.

``ansible-builder create`` writes the build context without a container engine. The stages that
would run inside the image are replayed here offline with the context's own files: the galaxy
stage's ``ansible-galaxy collection install -r requirements.yml`` and the builder stage's
introspection script, which reads ``meta/execution-environment.yml`` of each installed collection.
"""
from __future__ import annotations

import re

import pytest
import yaml

from roamscan_fixtures import COLLECTION_ROOT


@pytest.fixture(scope='module')
def context(built_collection, tmp_path_factory, run_ansible):
    artifact = built_collection
    work = tmp_path_factory.mktemp('ee')
    definition = {
        'version': 3,
        'images': {'base_image': {'name': 'quay.io/centos/centos:stream9'}},
        'dependencies': {
            'python_interpreter': {'package_system': 'python3.12', 'python_path': '/usr/bin/python3.12'},
            'ansible_core': {'package_pip': 'ansible-core>=2.19'},
            'ansible_runner': {'package_pip': 'ansible-runner'},
            'galaxy': {'collections': [{'name': 'collections/%s' % artifact.name, 'type': 'file'}]},
        },
        'additional_build_files': [{'src': str(artifact), 'dest': 'collections'}],
    }
    (work / 'execution-environment.yml').write_text(yaml.safe_dump(definition, sort_keys=False))
    run_ansible('ansible-builder', 'create', '-f', 'execution-environment.yml', '-c', 'context',
                '--output-filename', 'Containerfile', cwd=work, check=True)
    return work / 'context'


@pytest.fixture(scope='module')
def introspected(context, tmp_path_factory, run_ansible):
    """(python requirements, bindep lines) the builder stage would compute."""
    collections = tmp_path_factory.mktemp('usr-share-ansible') / 'collections'
    run_ansible('ansible-galaxy', 'collection', 'install', '--offline', '-r', 'requirements.yml',
                '--collections-path', str(collections), cwd=context / '_build',
                env={'ANSIBLE_GALAXY_DISABLE_GPG_VERIFY': '1', 'ANSIBLE_COLLECTIONS_PATH': str(collections)}, check=True)
    pip_out, bindep_out = collections.parent / 'requirements.txt', collections.parent / 'bindep.txt'
    run_ansible('python', str(context / '_build' / 'scripts' / 'introspect.py'), 'introspect', str(collections),
                '--write-pip', str(pip_out), '--write-bindep', str(bindep_out), check=True)
    return pip_out.read_text().splitlines(), bindep_out.read_text().splitlines() if bindep_out.exists() else []


def test_context_installs_this_collection_from_the_local_artifact(context, built_collection):
    artifact = built_collection
    containerfile = (context / 'Containerfile').read_text()
    assert re.search(r'ansible-galaxy collection install .*-r requirements\.yml', containerfile)
    assert 'introspect.py introspect' in containerfile
    assert yaml.safe_load((context / '_build' / 'requirements.yml').read_text()) == {
        'collections': [{'name': 'collections/%s' % artifact.name, 'type': 'file'}]}
    assert (context / '_build' / 'collections' / artifact.name).read_bytes() == artifact.read_bytes()


def test_image_gets_the_collections_python_requirements(introspected):
    pip_lines, dummy = introspected
    ours = {line.split('#')[0].strip() for line in pip_lines if line.endswith('# from collection roamscan.qualys')}
    expected = {line.split('#')[0].strip() for line in (COLLECTION_ROOT / 'meta' / 'ee-requirements.txt').read_text().splitlines()
                if line.split('#')[0].strip()}
    assert ours == expected
    assert {re.split('[<>=!~ ]', line)[0] for line in ours} >= {'requests', 'defusedxml'}


def test_image_gets_an_ssh_client_for_the_dhcp_servers(introspected):
    dummy, bindep_lines = introspected
    ours = [line for line in bindep_lines if line.endswith('# from collection roamscan.qualys')]
    assert any(line.startswith('openssh-clients [platform:rpm]') for line in ours), bindep_lines
    assert any(line.startswith('openssh-client [platform:dpkg]') for line in ours), bindep_lines
