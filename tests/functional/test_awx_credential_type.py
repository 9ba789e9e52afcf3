# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shipped AWX credential type: AWX would accept it, and a job gets the Qualys env from it."""
from __future__ import annotations

import base64
import copy

import pytest
import yaml

from awx_credential import inject_env, load_credential_type, validation_errors
from awx_job import run_awx_job

# A password that would break naive quoting or be re-rendered by a careless template engine.
PASSWORD = "p@ss word'\"{{ url }}$(id)%s"
INPUTS = {'url': 'https://qualysapi.qg2.apps.qualys.eu', 'username': 'acme_rs', 'password': PASSWORD}


@pytest.fixture(name='awx_job')
def awx_job_fixture(tmp_path, ansible_env):
    def _run(project, playbook, inventory, **kwargs):
        return run_awx_job(tmp_path / 'job', project, playbook, inventory, ansible_env, **kwargs)
    return _run


@pytest.fixture(name='definition')
def definition_fixture():
    return load_credential_type()


def test_awx_accepts_the_shipped_credential_type(definition):
    assert validation_errors(definition) == []


def test_inputs_and_injectors_are_the_qualys_connection(definition):
    fields = {field['id']: field for field in definition['inputs']['fields']}
    assert set(fields) == {'url', 'username', 'password'}
    assert fields['password'].get('secret') is True
    assert not fields['url'].get('secret') and not fields['username'].get('secret')
    assert set(definition['inputs']['required']) == {'url', 'username', 'password'}
    assert definition['injectors'] == {'env': {'QUALYS_API_URL': '{{ url }}', 'QUALYS_USERNAME': '{{ username }}',
                                               'QUALYS_PASSWORD': '{{ password }}'}}


def _mutated(definition, change):
    broken = copy.deepcopy(definition)
    change(broken)
    return validation_errors(broken)


@pytest.mark.parametrize('change, expected', [
    (lambda d: d['injectors']['env'].update(ANSIBLE_QUALYS_URL='{{ url }}'), 'ANSIBLE_QUALYS_URL may affect Ansible'),
    (lambda d: d['injectors']['env'].update(PATH='{{ url }}'), 'PATH is set by AWX itself'),
    (lambda d: d['injectors']['env'].update(QUALYS_PLATFORM='{{ platform }}'), 'QUALYS_PLATFORM uses an undefined field'),
    (lambda d: d['injectors']['env'].update({'QUALYS-URL': '{{ url }}'}), "'QUALYS-URL' does not match"),
    (lambda d: d['inputs']['fields'].append({'id': 'url', 'label': 'Again'}), 'field IDs must be unique (url)'),
    (lambda d: d['inputs']['fields'][2].update(type='boolean'), 'password: format/multiline/secret/choices'),
    (lambda d: d['inputs']['fields'][0].update(placeholder='x'), 'Additional properties are not allowed'),
    (lambda d: d['inputs']['fields'][1].pop('label'), "'label' is a required property"),
    (lambda d: d['inputs']['required'].append('token'), 'required names undefined fields: token'),
    (lambda d: d.update(kind='ssh'), "kind: must be 'cloud' or 'net'"),
    (lambda d: d['injectors'].update(extra_vars={'qualys_url': '{{ url '}), 'not a valid template'),
])
def test_validator_refuses_what_awx_refuses(definition, change, expected):
    errors = _mutated(definition, change)
    assert any(expected in error for error in errors), errors


def test_injected_env_carries_inputs_verbatim_and_job_record_hides_the_password(definition):
    env, safe_env = inject_env(definition, INPUTS)
    assert env == {'QUALYS_API_URL': INPUTS['url'], 'QUALYS_USERNAME': 'acme_rs', 'QUALYS_PASSWORD': PASSWORD}
    assert safe_env == {'QUALYS_API_URL': INPUTS['url'], 'QUALYS_USERNAME': 'acme_rs', 'QUALYS_PASSWORD': '**********'}


def test_ansible_runner_job_sees_the_credential_env_and_never_logs_the_password(definition, tmp_path, awx_job):
    """env from the credential reaches the playbook's environment as in an AWX job; job events,
    stdout and facts never show the password (the playbook only compares it)."""
    env, dummy = inject_env(definition, INPUTS)
    project = tmp_path / 'project'
    project.mkdir()
    (project / 'check_env.yml').write_text(yaml.safe_dump([{
        'name': 'Check the credential env', 'hosts': 'localhost', 'gather_facts': False,
        'tasks': [{'name': 'Compare', 'ansible.builtin.assert': {
            'that': ["lookup('ansible.builtin.env', 'QUALYS_API_URL') == expected_url",
                     "lookup('ansible.builtin.env', 'QUALYS_USERNAME') == 'acme_rs'",
                     "lookup('ansible.builtin.env', 'QUALYS_PASSWORD') == expected_password | b64decode"],
            'quiet': True}}]}]))
    job = awx_job(project, 'check_env.yml', inventory='localhost ansible_connection=local\n', credential_env=env,
                  extravars={'expected_url': INPUTS['url'],
                             'expected_password': base64.b64encode(PASSWORD.encode()).decode()})
    assert job.status == 'successful', job.stdout
    assert PASSWORD not in job.stdout
    assert PASSWORD not in job.events_text
