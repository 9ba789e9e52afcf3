# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""AWX custom credential types, checked and injected offline the way AWX does it.

AWX is not installable here, so this module restates the rules AWX applies when a custom
credential type is created (the JSON schemas of ``CredentialTypeInputField`` and
``CredentialTypeInjectorField`` in awx/main/fields.py, the env-name rules, the check that
injector templates only reference defined inputs) and how a job's environment is built from a
credential (``CredentialType.inject_credential``: an ImmutableSandboxedEnvironment renders each
env template with the credential's inputs; the result becomes the job's env/envvars).
"""
from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml
from jinja2 import StrictUndefined
from jinja2.exceptions import TemplateError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from roamscan_fixtures import COLLECTION_ROOT

QUALYS_CREDENTIAL_TYPE = COLLECTION_ROOT / 'extensions' / 'awx' / 'credential_type_qualys.yml'

# Custom credential types may only be of these kinds (the serializer rejects the others).
CUSTOM_KINDS = ('cloud', 'net')
_NAME = '^[a-zA-Z_]+[a-zA-Z0-9_]*$'

INPUTS_SCHEMA = {
    'type': 'object',
    'properties': {
        'required': {'type': 'array', 'items': {'type': 'string'}},
        'fields': {
            'type': 'array',
            'items': {
                'type': 'object',
                'properties': {
                    'type': {'enum': ['string', 'boolean']},
                    'format': {'enum': ['ssh_private_key', 'url']},
                    'choices': {'type': 'array', 'minItems': 1, 'items': {'type': 'string'}, 'uniqueItems': True},
                    'id': {'type': 'string', 'pattern': _NAME},
                    'label': {'type': 'string'},
                    'help_text': {'type': 'string'},
                    'multiline': {'type': 'boolean'},
                    'secret': {'type': 'boolean'},
                    'ask_at_runtime': {'type': 'boolean'},
                    'default': {},
                },
                'additionalProperties': False,
                'required': ['id', 'label'],
            },
        },
        'metadata': {'type': 'array'},
    },
    'additionalProperties': False,
}

INJECTORS_SCHEMA = {
    'type': 'object',
    'properties': {
        'file': {'type': 'object', 'patternProperties': {r'^template(\.[a-zA-Z_]+[a-zA-Z0-9_]*)?$': {'type': 'string'}},
                 'additionalProperties': False},
        'env': {'type': 'object', 'patternProperties': {_NAME: {'type': 'string'}}, 'additionalProperties': False},
        'extra_vars': {'type': 'object', 'patternProperties': {_NAME: {'type': 'string'}}, 'additionalProperties': False},
    },
    'additionalProperties': False,
}

# Variables AWX itself sets for a job; a credential must not override them.
ENV_BLOCKLIST = frozenset((
    'VIRTUAL_ENV', 'PATH', 'PYTHONPATH', 'JOB_ID', 'INVENTORY_ID', 'INVENTORY_SOURCE_ID', 'INVENTORY_UPDATE_ID',
    'AD_HOC_COMMAND_ID', 'REST_API_URL', 'REST_API_TOKEN', 'MAX_EVENT_RES', 'CALLBACK_QUEUE', 'CALLBACK_CONNECTION',
    'CACHE', 'JOB_CALLBACK_DEBUG', 'INVENTORY_HOSTVARS', 'AWX_HOST', 'PROJECT_REVISION', 'SUPERVISOR_CONFIG_PATH',
))


def load_credential_type(path=QUALYS_CREDENTIAL_TYPE):
    return yaml.safe_load(Path(path).read_text())


def _schema_errors(schema, data, where):
    validator = jsonschema.Draft4Validator(schema)
    return ['%s: %s at %s' % (where, err.message, '/'.join(str(p) for p in err.absolute_path) or '(top)')
            for err in validator.iter_errors(data)]


def validation_errors(definition):
    """Everything AWX would refuse when this definition is POSTed to /api/v2/credential_types/."""
    if not isinstance(definition, dict):
        return ['a credential type is a mapping, got %s' % type(definition).__name__]
    errors = []
    unknown = set(definition) - {'name', 'description', 'kind', 'inputs', 'injectors'}
    if unknown:
        errors.append('unknown keys: %s' % ', '.join(sorted(unknown)))
    if not isinstance(definition.get('name'), str) or not definition['name'].strip():
        errors.append('name: required')
    if definition.get('kind') not in CUSTOM_KINDS:
        errors.append("kind: must be 'cloud' or 'net', not %r" % (definition.get('kind'),))
    inputs = definition.get('inputs', {})
    injectors = definition.get('injectors', {})
    errors += _schema_errors(INPUTS_SCHEMA, inputs, 'inputs')
    errors += _schema_errors(INJECTORS_SCHEMA, injectors, 'injectors')
    if errors:
        return errors

    fields = inputs.get('fields', [])
    ids = [field['id'] for field in fields]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        errors.append('inputs: field IDs must be unique (%s)' % ', '.join(duplicates))
    for field in fields:
        if field.get('type', 'string') != 'string' and set(field) & {'format', 'multiline', 'secret', 'choices'}:
            errors.append('inputs: %s: format/multiline/secret/choices apply to string fields only' % field['id'])
    missing = sorted(set(inputs.get('required', [])) - set(ids))
    if missing:
        errors.append('inputs: required names undefined fields: %s' % ', '.join(missing))

    for env_var in injectors.get('env', {}):
        if env_var.startswith('ANSIBLE_'):
            errors.append('injectors: env %s may affect Ansible configuration; AWX rejects it' % env_var)
        if env_var in ENV_BLOCKLIST:
            errors.append('injectors: env %s is set by AWX itself; AWX rejects it' % env_var)
    if 'file' in injectors and len(injectors['file']) > 1 and 'template' in injectors['file']:
        errors.append('injectors: single- and multi-file syntax cannot be mixed')

    # AWX renders every template against dummy values of the defined inputs, undefined = error.
    namespace = {field_id: 'EXAMPLE' for field_id in ids}
    files = injectors.get('file', {})
    if files:
        names = [key.partition('.')[2] for key in files]
        namespace['tower'] = {'filename': 'EXAMPLE_FILENAME' if names == [''] else {n: 'EXAMPLE_FILENAME' for n in names}}
    sandbox = ImmutableSandboxedEnvironment(undefined=StrictUndefined)
    for section in ('file', 'env', 'extra_vars'):
        for key, template in injectors.get(section, {}).items():
            try:
                sandbox.from_string(template).render(**namespace)
            except UndefinedError as exc:
                errors.append('injectors: %s.%s uses an undefined field (%s)' % (section, key, exc))
            except TemplateError as exc:
                errors.append('injectors: %s.%s is not a valid template (%s)' % (section, key, exc))
    return errors


HIDDEN_PASSWORD = '*' * 10


def inject_env(definition, credential_inputs):
    """(env, safe_env): what AWX sets for a job using a credential with these inputs, and what it
    stores in the job record (secret inputs replaced by asterisks).

    As in AWX's inject_credential: empty inputs are left out of the namespace (a template naming
    one renders empty), blocklisted names are skipped, templates render in an immutable sandbox.
    """
    secret = {field['id'] for field in definition['inputs'].get('fields', []) if field.get('secret')}
    namespace, safe_namespace = {}, {}
    for name, value in credential_inputs.items():
        if isinstance(value, bool):
            namespace[name] = safe_namespace[name] = value
            continue
        if name in secret:
            safe_namespace[name] = HIDDEN_PASSWORD
        elif value:
            safe_namespace[name] = value
        if value:
            namespace[name] = value
    for field in definition['inputs'].get('fields', []):
        if field.get('type') == 'boolean' and field['id'] not in credential_inputs:
            namespace[field['id']] = safe_namespace[field['id']] = False
    sandbox = ImmutableSandboxedEnvironment()
    env, safe_env = {}, {}
    for name, template in definition['injectors'].get('env', {}).items():
        if name in ENV_BLOCKLIST:
            continue
        env[name] = sandbox.from_string(template).render(**namespace)
        safe_env[name] = sandbox.from_string(template).render(**safe_namespace)
    return env, safe_env


def write_runner_envvars(private_data_dir, env):
    """Write ``env/envvars`` of an ansible-runner private data dir (what AWX hands the job)."""
    target = Path(private_data_dir) / 'env' / 'envvars'
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(yaml.safe_dump(env, default_flow_style=False))
    target.chmod(0o600)
    return target
