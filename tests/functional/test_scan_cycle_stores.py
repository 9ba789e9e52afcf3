# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The same launch-then-credit cycle on the other supported stores and drivers: Redis shared by
several controllers (a real redis-server on loopback), ansible-core 2.19 with its different
on-disk cache format, and ansible-runner driving the job the way AWX does."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cycle_lab import CycleLab, SCAN_SETTINGS, launch_calls, summary_of

A, B = '02:77:00:00:0a:01', '02:77:00:00:0b:02'
COLLECTION_ROOT = Path(__file__).resolve().parents[2]


def launch_then_credit(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    first = summary_of(lab.run(qualys_sim))
    assert len(launch_calls(qualys_sim)) == 1 and sorted(first['launched_targets']) == ['10.77.0.100', '10.77.0.101']
    qualys_sim.state.scan_action('*', 'process')
    second = summary_of(lab.run(qualys_sim))
    assert sorted(second['credited']) == [A, B] and second['launched'] == [] and len(launch_calls(qualys_sim)) == 1
    records, groups = lab.inventory()
    assert all(record['last_scanned'] for record in records.values()) and len(records) == 2


def test_cycle_on_redis_shared_by_two_controllers(tmp_path, ansible_env, qualys_sim, redis_server):
    """Controller 1 launches, controller 2 (its own directory, same Redis) confirms and credits."""
    env = dict(ansible_env, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='true')   # community.general from the ansible package
    connection = redis_server.connection
    first = CycleLab(tmp_path / 'controller1', env, cache='community.general.redis', cache_connection=connection)
    second = CycleLab(tmp_path / 'controller2', env, cache='community.general.redis', cache_connection=connection)
    for lab in (first, second):
        lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    assert sorted(summary_of(first.run(qualys_sim))['launched_targets']) == ['10.77.0.100', '10.77.0.101']
    qualys_sim.state.scan_action('*', 'process')
    summary = summary_of(second.run(qualys_sim))
    assert sorted(summary['credited']) == [A, B] and summary['launched'] == [] and len(launch_calls(qualys_sim)) == 1


def test_redis_with_expiry_is_refused(tmp_path, ansible_env, qualys_sim, redis_server):
    env = dict(ansible_env, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='true')
    lab = CycleLab(tmp_path / 'lab', env, cache='community.general.redis', cache_connection=redis_server.connection,
                   cache_timeout=86400)
    proc = lab.run(qualys_sim)
    assert proc.returncode != 0 and 'Set fact_caching_timeout = 0' in proc.stdout and qualys_sim.state.calls == []


def compat_venv_bin():
    venv_dir = Path(os.environ.get('ROAMSCAN_VENV_DIR', COLLECTION_ROOT / '.venv'))
    return venv_dir / 'py311' / 'bin'


@pytest.mark.skipif(not (compat_venv_bin() / 'ansible-playbook').exists(), reason='no py311 (ansible-core 2.19) environment')
def test_cycle_on_ansible_core_2_19(tmp_path, ansible_env, qualys_sim):
    lab = CycleLab(tmp_path / 'lab', ansible_env, venv_bin=compat_venv_bin())
    version = subprocess.run([str(compat_venv_bin() / 'ansible'), '--version'], capture_output=True, text=True, check=True)
    assert 'core 2.19' in version.stdout
    launch_then_credit(lab, qualys_sim)


def test_cycle_driven_by_ansible_runner_like_awx(tmp_path, collections_dir, qualys_sim):
    """Private data dir as AWX builds it: project with ansible.cfg and a playbook importing the collection's, inventory,
    credentials only as environment variables (env/envvars), survey answers as extra vars, artifacts per job."""
    runner = shutil.which('ansible-runner', path=str(Path(os.sys.executable).parent))
    if not runner:
        pytest.skip('ansible-runner is not installed')
    data = tmp_path / 'private_data_dir'
    facts = tmp_path / 'facts'
    for sub in ('project', 'inventory', 'env'):
        (data / sub).mkdir(parents=True)
    spool, leases = tmp_path / 'dhcp1' / 'spool', tmp_path / 'dhcp1' / 'kea-leases4.csv'
    spool.mkdir(parents=True)
    (data / 'project' / 'scan.yml').write_text('---\n- name: Run the roamscan cycle\n  ansible.builtin.import_playbook: roamscan.qualys.scan_overdue\n')
    python = os.sys.executable
    (data / 'inventory' / 'hosts.json').write_text(json.dumps({
        'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': python}},
                'children': {'dhcp_servers': {'hosts': {'dhcp1': {
                    'ansible_connection': 'local', 'ansible_python_interpreter': python, 'roamscan_dhcp_server': 'kea',
                    'roamscan_spool_dir': str(spool), 'roamscan_lease_file': str(leases)}}}}}}))
    (data / 'env' / 'envvars').write_text(json.dumps({
        'QUALYS_API_URL': qualys_sim.url, 'QUALYS_USERNAME': qualys_sim.username, 'QUALYS_PASSWORD': qualys_sim.password,
        'ANSIBLE_COLLECTIONS_PATH': str(collections_dir), 'ANSIBLE_COLLECTIONS_SCAN_SYS_PATH': 'false'}))
    survey = dict(SCAN_SETTINGS, roamscan_rescan_days=14)
    (data / 'env' / 'extravars').write_text(json.dumps(survey))
    lab = CycleLab(tmp_path / 'writer', {})
    lab.lease_file = lambda server: leases
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])

    def job(ident, expect='successful'):
        env = {k: v for k, v in os.environ.items() if not k.startswith(('ANSIBLE_', 'QUALYS_'))}
        env['PATH'] = '%s:%s' % (Path(python).parent, env.get('PATH', '/usr/bin:/bin'))
        proc = subprocess.run([runner, 'run', str(data), '-p', 'scan.yml', '--ident', ident], env=env,
                              capture_output=True, text=True, timeout=600, check=False)
        artifacts = data / 'artifacts' / ident
        assert (artifacts / 'status').read_text() == expect, proc.stdout[-4000:]
        if expect != 'successful':
            return (artifacts / 'stdout').read_text()
        stats = [json.loads(p.read_text()) for p in (artifacts / 'job_events').glob('*.json')]
        final = [e for e in stats if e.get('event') == 'playbook_on_stats']
        assert qualys_sim.password not in (artifacts / 'stdout').read_text()
        return final[0]['event_data']['artifact_data']['roamscan_cycle']

    # runner (like AWX) points Ansible's fact cache at the job's artifacts: refused, nothing launched
    refused = job('job-0', expect='failed')
    assert "inside this job's artifacts directory" in refused and 'roamscan_fact_cache' in refused
    assert qualys_sim.state.calls == []
    survey['roamscan_fact_cache'] = {'plugin': 'ansible.builtin.jsonfile', 'connection': str(facts), 'timeout': 0}
    (data / 'env' / 'extravars').write_text(json.dumps(survey))
    first = job('job-1')
    assert sorted(first['launched_targets']) == ['10.77.0.100', '10.77.0.101'] and len(launch_calls(qualys_sim)) == 1
    qualys_sim.state.scan_action('*', 'process')
    second = job('job-2')
    assert sorted(second['credited']) == [A, B] and second['launched'] == [] and len(launch_calls(qualys_sim)) == 1
