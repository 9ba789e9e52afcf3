# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan cycle as an AWX job: the shipped example project (extensions/awx/project), the Qualys
credential injected from the shipped credential type, scan settings as extra vars, run by
ansible-runner like AWX runs it, checked in the Qualys simulator, the job's artifacts and the
durable fact cache."""
from __future__ import annotations

import shutil

import pytest

from awx_credential import inject_env, load_credential_type
from awx_job import run_awx_job
from cycle_lab import SCAN_SETTINGS, CycleLab, launch_calls
from roamscan_fixtures import COLLECTION_ROOT

A, B = '02:77:00:00:0a:01', '02:77:00:00:0b:02'
HOSTS = {'mac-027700000a01', 'mac-027700000b02'}
SHIPPED_CACHE_LINE = 'fact_caching_connection = /var/lib/roamscan/facts'


@pytest.fixture(name='lab')
def lab_fixture(tmp_path, ansible_env):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    return lab


@pytest.fixture(name='project')
def project_fixture(tmp_path, lab):
    """The example AWX project with its one site-specific line pointed at this test's cache."""
    project = tmp_path / 'project'
    shutil.copytree(COLLECTION_ROOT / 'extensions' / 'awx' / 'project', project)
    config = (project / 'ansible.cfg').read_text()
    assert SHIPPED_CACHE_LINE in config
    (project / 'ansible.cfg').write_text(config.replace(SHIPPED_CACHE_LINE,
                                                        'fact_caching_connection = %s' % lab.cache_dir))
    return project


@pytest.fixture(name='awx_job')
def awx_job_fixture(tmp_path, ansible_env, lab, qualys_sim, project):
    inputs = {'url': qualys_sim.url, 'username': qualys_sim.username, 'password': qualys_sim.password}
    credential_env, dummy = inject_env(load_credential_type(), inputs)
    inventory = (lab.root / 'inventory.yml').read_text()
    runs = []

    def _run(**kwargs):
        runs.append(len(runs) + 1)
        return run_awx_job(tmp_path / 'job', project, 'roamscan_cycle.yml', inventory, ansible_env,
                           credential_env=credential_env, extravars=SCAN_SETTINGS, ident=runs[-1], **kwargs)
    return _run


def job_stats(job):
    """What the cycle published with set_stats (AWX shows it as the job's artifacts)."""
    stats = [e for e in job.events if e.get('event') == 'playbook_on_stats']
    return stats[-1]['event_data'].get('artifact_data', {}) if stats else {}


def test_cycle_as_awx_job_launches_then_credits(awx_job, lab, qualys_sim):
    first = awx_job()
    assert first.status == 'successful', first.stdout[-4000:]
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1 and calls[0]['params']['ip'] == '10.77.0.100-10.77.0.101'
    assert qualys_sim.password not in first.stdout and qualys_sim.password not in first.events_text
    assert job_stats(first), 'the cycle published no artifacts for AWX'
    records, groups = lab.inventory()  # the durable cache of the project's ansible.cfg
    assert groups['roaming_pending'] == HOSTS
    assert {record['pending']['ip'] for record in records.values()} == {'10.77.0.100', '10.77.0.101'}

    qualys_sim.state.scan_action('*', 'process')
    second = awx_job()
    assert second.status == 'successful', second.stdout[-4000:]
    assert len(launch_calls(qualys_sim)) == 1
    records, dummy = lab.inventory()
    assert all(record['last_scanned'] and record['pending'] is None for record in records.values())


def test_awx_fact_storage_is_not_a_home_for_scan_history(awx_job, lab):
    """With "Enable Fact Storage" ansible-runner points the fact cache at the job's artifacts dir."""
    job = awx_job(use_fact_cache=True)
    records, dummy = lab.inventory()
    assert records == {}, 'the durable cache got the records although fact storage overrode it'
    if job.status == 'successful':
        assert list((job.artifacts / 'fact_cache').iterdir()), 'records went neither to the durable cache nor to AWX'
