# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a playbook through ansible-runner the way an AWX job runs it.

AWX (awx/main/tasks/jobs.py) copies the project into the job's private data dir, writes the
inventory and ``env/extravars``, passes the job environment (credential env injectors included)
as ``envvars`` with ``suppress_env_files`` so it is not written to disk, sets
``fact_cache_type`` to ``jsonfile`` only when the job template enables fact storage
(``use_fact_cache``) and to ``''`` otherwise, and reads everything back from job events.
ansible-runner runs in a child process so the test's own environment never leaks in.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

_RUNNER = r'''
import json, sys
import ansible_runner
spec = json.load(sys.stdin)
result = ansible_runner.run(**spec, quiet=True)
print(json.dumps({'status': result.status, 'rc': result.rc}))
'''


class AwxJob:
    """Outcome of one job: status, rc, stdout from the job events, the events themselves."""

    def __init__(self, private_data_dir, ident, status, rc):
        self.private_data_dir = Path(private_data_dir)
        self.artifacts = self.private_data_dir / 'artifacts' / str(ident)
        self.status = status
        self.rc = rc
        event_files = sorted((self.artifacts / 'job_events').glob('*.json'), key=lambda p: int(p.name.split('-')[0]))
        self.events = [json.loads(p.read_text()) for p in event_files]
        self.stdout = '\n'.join(e.get('stdout', '') for e in self.events if e.get('stdout'))
        self.events_text = json.dumps(self.events)

    def task_results(self, task_name):
        """``res`` of each host's runner_on_ok / runner_on_failed event of the named task."""
        return [e['event_data'].get('res') for e in self.events
                if e.get('event') in ('runner_on_ok', 'runner_on_failed') and e['event_data'].get('task') == task_name]


def run_awx_job(private_data_dir, project_dir, playbook, inventory, env, credential_env=None, extravars=None,
                use_fact_cache=False, ident=1, timeout=900):
    """Run ``playbook`` of ``project_dir`` as AWX job ``ident``. ``env`` is the execution
    environment's process environment (PATH, collections path...), ``credential_env`` what the
    job's credentials inject."""
    private = Path(private_data_dir)
    if (private / 'project').exists():
        shutil.rmtree(private / 'project')
    shutil.copytree(project_dir, private / 'project', symlinks=True)
    (private / 'inventory').mkdir(parents=True, exist_ok=True)
    (private / 'inventory' / 'hosts').write_text(inventory)
    (private / 'env').mkdir(exist_ok=True)
    (private / 'env' / 'extravars').write_text(yaml.safe_dump(extravars or {}))
    job_env = {'JOB_ID': str(ident), 'AWX_HOST': 'https://awx.example.invalid', 'PROJECT_REVISION': 'test'}
    job_env.update(credential_env or {})
    spec = {
        'private_data_dir': str(private), 'playbook': playbook, 'ident': str(ident), 'envvars': job_env,
        'suppress_env_files': True, 'fact_cache_type': 'jsonfile' if use_fact_cache else '',
        'settings': {'suppress_ansible_output': True, 'job_timeout': timeout},
    }
    proc = subprocess.run([sys.executable, '-c', _RUNNER], input=json.dumps(spec), env=env, capture_output=True,
                          text=True, timeout=timeout + 60, check=False)
    if proc.returncode != 0:
        raise AssertionError('ansible-runner crashed (rc=%s):\n%s\n%s' % (proc.returncode, proc.stdout, proc.stderr))
    outcome = json.loads(proc.stdout.strip().splitlines()[-1])
    return AwxJob(private, ident, outcome['status'], outcome['rc'])
