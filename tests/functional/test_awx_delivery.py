# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the built collection reaches AWX (docs/awx.md section 1) and where AWX keeps roamscan's state
(section 5): the example project's requirements.yml installs the tarball as shipped, the shipped
ansible-builder definition makes a build context with it, and the Kubernetes examples are what
their comments say, wired to the project's ansible.cfg."""
from __future__ import annotations

import configparser
import json
import shutil

import pytest
import yaml

from roamscan_fixtures import COLLECTION_ROOT

AWX = COLLECTION_ROOT / 'extensions' / 'awx'
GALAXY_OFFLINE = {'ANSIBLE_GALAXY_DISABLE_GPG_VERIFY': '1'}


def version():
    return yaml.safe_load((COLLECTION_ROOT / 'galaxy.yml').read_text())['version']


def installed_version(collections):
    manifest = collections / 'ansible_collections' / 'roamscan' / 'qualys' / 'MANIFEST.json'
    return json.loads(manifest.read_text())['collection_info']['version']


def test_the_example_projects_requirements_install_the_built_tarball_as_shipped(built_collection, tmp_path, run_ansible):
    project = tmp_path / 'project'
    shutil.copytree(AWX / 'project', project)
    requirements = yaml.safe_load((project / 'collections' / 'requirements.yml').read_text())
    assert requirements['collections'] == [{'name': 'collections/%s' % built_collection.name, 'type': 'file'}]
    shutil.copy(built_collection, project / 'collections')   # what the user commits to the project
    target = tmp_path / 'installed'
    # as AWX's project sync runs it: in the project's root
    run_ansible('ansible-galaxy', 'collection', 'install', '--offline', '-r', 'collections/requirements.yml',
                '-p', str(target), cwd=project, env=dict(GALAXY_OFFLINE, ANSIBLE_COLLECTIONS_PATH=str(target)), check=True)
    assert installed_version(target) == version()
    assert (target / 'ansible_collections/roamscan/qualys/playbooks/scan_overdue.yml').is_file()


def test_the_shipped_execution_environment_builds_a_context_with_the_local_collection(built_collection, tmp_path, run_ansible):
    work = tmp_path / 'ee'
    work.mkdir()
    shutil.copy(AWX / 'execution-environment.yml', work)
    shutil.copy(built_collection, work)   # docs/awx.md: ansible-galaxy collection build --output-path ee/
    run_ansible('ansible-builder', 'create', '-f', 'execution-environment.yml', '-c', 'context', cwd=work, check=True)
    build = work / 'context' / '_build'
    assert (build / 'collections' / built_collection.name).read_bytes() == built_collection.read_bytes()
    collections = tmp_path / 'usr-share-ansible-collections'
    # the galaxy stage of the image, replayed offline in the context it runs in
    run_ansible('ansible-galaxy', 'collection', 'install', '--offline', '-r', 'requirements.yml', '-p', str(collections),
                cwd=build, env=dict(GALAXY_OFFLINE, ANSIBLE_COLLECTIONS_PATH=str(collections)), check=True)
    assert installed_version(collections) == version()


def project_fact_cache():
    config = configparser.ConfigParser()
    config.read(AWX / 'project' / 'ansible.cfg')
    return config['defaults']['fact_caching_connection']


def test_the_container_group_pod_spec_mounts_a_persistent_volume_where_the_project_keeps_its_state():
    spec = yaml.safe_load((AWX / 'container_group_pod_spec.yml').read_text())
    assert spec['apiVersion'] == 'v1' and spec['kind'] == 'Pod'
    worker = spec['spec']['containers'][0]
    assert worker['name'] == 'worker' and worker['args'][:2] == ['ansible-runner', 'worker']   # what AWX requires
    volumes = {volume['name']: volume for volume in spec['spec']['volumes']}
    mounts = [mount for mount in worker['volumeMounts'] if 'persistentVolumeClaim' in volumes[mount['name']]]
    assert mounts, 'no persistent volume mounted'
    mount_path = mounts[0]['mountPath'].rstrip('/') + '/'
    assert project_fact_cache().startswith(mount_path)
    report = yaml.safe_load((AWX / 'configure_awx.yml').read_text())[0]['vars']['roamscan_awx_report_path']
    assert report.startswith(mount_path)


def test_the_redis_example_is_a_persistent_redis_service():
    listing = yaml.safe_load((AWX / 'redis.yml').read_text())
    assert listing['apiVersion'] == 'v1' and listing['kind'] == 'List'
    documents = listing['items']
    kinds = {document['kind']: document for document in documents}
    assert set(kinds) == {'PersistentVolumeClaim', 'Deployment', 'Service'}
    pod = kinds['Deployment']['spec']['template']['spec']
    assert pod['volumes'][0]['persistentVolumeClaim']['claimName'] == kinds['PersistentVolumeClaim']['metadata']['name']
    assert '--appendonly' in pod['containers'][0]['args']
    service = kinds['Service']
    assert service['spec']['ports'][0]['port'] == 6379
    address = '%s.%s.svc:6379:0' % (service['metadata']['name'], service['metadata']['namespace'])
    assert 'fact_caching_connection = %s' % address in (COLLECTION_ROOT / 'docs' / 'awx.md').read_text()


@pytest.mark.parametrize('setting', ['become_enabled: true', 'use_fact_cache: false', 'allow_simultaneous: false'])
def test_configure_awx_gives_the_cycle_privilege_escalation_and_a_durable_store(setting):
    templates = [task['awx.awx.job_template'] for task in yaml.safe_load((AWX / 'configure_awx.yml').read_text())[0]['tasks']
                 if 'awx.awx.job_template' in task]
    cycle = [template for template in templates if template['playbook'] == 'roamscan_cycle.yml'][0]
    key, value = setting.split(': ')
    assert cycle[key] is (value == 'true')
    assert (AWX / 'project' / [template['playbook'] for template in templates if template is not cycle][0]).is_file()
