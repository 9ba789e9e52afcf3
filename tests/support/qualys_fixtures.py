# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for suites that drive the Qualys modules against the simulator.

Loaded as a pytest plugin by tests/pytest.ini (``-p qualys_fixtures``).
Every play run through ``qualys_play`` is checked for the password in all its output and logs.
"""
from __future__ import annotations

import json
import secrets
import sys

import pytest

from qualys_sim import QualysSimulator

QUALYS_USER = 'roamscan_api'


@pytest.fixture(scope='session')
def qualys_sim_server():
    sim = QualysSimulator(username=QUALYS_USER, password='Sim-Pw-%s' % secrets.token_hex(8))
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture
def qualys_sim(qualys_sim_server):
    """The session's simulator, reset to a fresh subscription for this test."""
    qualys_sim_server.state.reset()
    return qualys_sim_server


@pytest.fixture
def qualys_collection_import(collections_dir):
    """Make ansible_collections.roamscan.qualys importable in this process (library-level tests)."""
    sys.path.insert(0, str(collections_dir))
    yield
    sys.path.remove(str(collections_dir))


class PlayResult:
    def __init__(self, proc, results, log_text):
        self.proc = proc
        self.results = results
        self.log_text = log_text
        self.output = proc.stdout + proc.stderr

    def __getitem__(self, name):
        return self.results[name]


@pytest.fixture
def qualys_play(qualys_sim, run_ansible, tmp_path):
    """qualys_play(tasks, verbosity=0, check=False) -> PlayResult.

    tasks: list of task dicts; each task that registers a variable has it dumped into
    PlayResult.results (also when a task fails). Connection options come from module_defaults
    (api_url, username) and QUALYS_PASSWORD in the environment, as an AWX credential would set them.
    """
    counter = {'n': 0}

    def _play(tasks, verbosity=0, extra_vars=None):
        counter['n'] += 1
        names = [task['register'] for task in tasks if 'register' in task]
        dump = tmp_path / ('results-%d.json' % counter['n'])
        log = tmp_path / ('ansible-%d.log' % counter['n'])
        content = '{{ {%s} | to_json }}' % ', '.join("'%s': (%s | default(None))" % (n, n) for n in names)
        play = [{
            'name': 'qualys functional test',
            'hosts': 'localhost',
            'gather_facts': False,
            'vars': dict(extra_vars or {}, sim_url=qualys_sim.url),
            'module_defaults': {
                'group/roamscan.qualys.qualys': {'api_url': qualys_sim.url, 'username': qualys_sim.username}},
            'tasks': [{'name': 'run and record', 'block': tasks, 'always': [{
                'name': 'dump registered results',
                'ansible.builtin.copy': {'content': content, 'dest': str(dump), 'mode': '0600'}}]}],
        }]
        playbook = tmp_path / ('play-%d.yml' % counter['n'])
        playbook.write_text(json.dumps(play, indent=1))
        args = [str(playbook), '-i', 'localhost,', '-c', 'local']
        if verbosity:
            args.append('-' + 'v' * verbosity)
        proc = run_ansible('ansible-playbook', *args, env={
            'QUALYS_PASSWORD': qualys_sim.password, 'ANSIBLE_LOG_PATH': str(log)})
        log_text = log.read_text() if log.exists() else ''
        results = json.loads(dump.read_text()) if dump.exists() else {}
        for where, text in (('stdout/stderr', proc.stdout + proc.stderr), ('ANSIBLE_LOG_PATH', log_text),
                            ('results', json.dumps(results))):
            assert qualys_sim.password not in text, 'password leaked into %s' % where
        assert dump.exists(), 'play did not run:\n%s\n%s' % (proc.stdout[-3000:], proc.stderr[-3000:])
        return PlayResult(proc, results, log_text)
    return _play


def admin_task(path, body, method='POST'):
    """A uri task driving the simulator's admin API from inside a play."""
    return {'name': 'simulator admin %s' % path, 'ansible.builtin.uri': {
        'url': '{{ sim_url }}/_sim/%s' % path, 'method': method, 'body_format': 'json', 'body': body}}


def api_calls(sim, api):
    return [call for call in sim.state.calls if call['api'] == api]
