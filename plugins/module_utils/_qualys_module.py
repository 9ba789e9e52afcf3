# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared connection argument spec and the module base that builds the Qualys client.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

The options are documented once in the roamscan.qualys.qualys doc fragment.
"""

from __future__ import annotations

from ansible.module_utils.basic import AnsibleModule, env_fallback, missing_required_lib

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_client import (
    HAS_REQUESTS,
    PLATFORMS,
    REQUESTS_IMPORT_ERROR,
    QualysClient,
    resolve_base_url,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import QualysError
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_xml import (
    DEFUSEDXML_IMPORT_ERROR,
    HAS_DEFUSEDXML,
)

QUALYS_CONNECTION_ARGSPEC = dict(
    api_url=dict(type='str', fallback=(env_fallback, ['QUALYS_API_URL'])),
    platform=dict(type='str', choices=list(PLATFORMS), fallback=(env_fallback, ['QUALYS_PLATFORM'])),
    username=dict(type='str', fallback=(env_fallback, ['QUALYS_USERNAME'])),
    password=dict(type='str', no_log=True, fallback=(env_fallback, ['QUALYS_PASSWORD'])),
    validate_certs=dict(type='bool', default=True),
    timeout=dict(type='int', default=120),
    max_wait=dict(type='int', default=300),
)


def missing_connection_settings(connection):
    """Why ``connection`` (the options, environment fallbacks applied) cannot reach Qualys, naming what to set; None if it can."""
    missing = [variable for option, variable in (('username', 'QUALYS_USERNAME'), ('password', 'QUALYS_PASSWORD'))
               if not connection.get(option)]
    if not (connection.get('api_url') or connection.get('platform')):
        missing.insert(0, 'QUALYS_API_URL (or QUALYS_PLATFORM)')
    if not missing:
        return None
    return ('Qualys connection settings missing: set %s in the controller\'s environment (an AWX job: the roamscan Qualys '
            'credential), or the options api_url/platform, username and password (in the cycle: the roamscan_qualys_connection '
            'variable)' % ', '.join(missing))


# what Ansible shows for a no_log option's value
MASKED = 'VALUE_SPECIFIED_IN_NO_LOG_PARAMETER'


class QualysModule(AnsibleModule):
    """AnsibleModule with the Qualys connection options, their checks and a lazily built client."""

    def __init__(self, argument_spec, **kwargs):
        spec = dict(QUALYS_CONNECTION_ARGSPEC)
        spec.update(argument_spec)
        kwargs['mutually_exclusive'] = [('api_url', 'platform')] + list(kwargs.get('mutually_exclusive', []))
        super().__init__(argument_spec=spec, **kwargs)
        missing = missing_connection_settings(self.params)
        if missing:
            self.fail_json(msg=missing)
        if self.params['timeout'] < 1:
            self.fail_json(msg='timeout must be at least 1 second, got %d' % self.params['timeout'])
        if self.params['max_wait'] < 0:
            self.fail_json(msg='max_wait must be zero or more seconds, got %d' % self.params['max_wait'])
        self._client = None

    def qualys_client(self):
        """The client for this run (built on first use, so check mode can avoid it entirely)."""
        if self._client is None:
            if not HAS_REQUESTS:
                self.fail_json(msg=missing_required_lib('requests'), exception=REQUESTS_IMPORT_ERROR)
            if not HAS_DEFUSEDXML:
                self.fail_json(msg=missing_required_lib('defusedxml'), exception=DEFUSEDXML_IMPORT_ERROR)
            params = self.params
            try:
                base_url = resolve_base_url(params['api_url'], params['platform'])
                self._client = QualysClient(base_url, params['username'], params['password'],
                                            validate_certs=params['validate_certs'], timeout=params['timeout'],
                                            max_wait=params['max_wait'])
            except QualysError as exc:
                self.fail_qualys(exc)
        return self._client

    def _return_formatted(self, kwargs):
        # Ansible masks every occurrence of a no_log value in the result: a password that is a common word
        # ("scan") would turn "scanner" into "********ner". No result ever carries the password (the client
        # scrubs Qualys' texts of it), so only the invocation needs it masked, and gets it.
        password = self.params.get('password')
        if password:
            self.no_log_values.discard(password)
            self.params = dict(self.params, password=MASKED)
        super()._return_formatted(kwargs)

    def exit_json(self, **kwargs):
        kwargs.setdefault('api_usage', self.api_usage())
        super().exit_json(**kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs.setdefault('api_usage', self.api_usage())
        super().fail_json(msg=msg, **kwargs)

    def api_usage(self):
        """Calls and Qualys' rate-limit answers per API of this run, for the cycle's budget governor."""
        client = getattr(self, '_client', None)   # argument checks fail before the client exists
        return client.api_usage() if client else {}

    @property
    def api_calls(self):
        return self._client.api_calls if self._client else 0

    def fail_qualys(self, exc, **result):
        """fail_json for a typed Qualys error, keeping the call count and any partial result."""
        source = getattr(exc, 'cause', None) or exc
        details = {'error': type(source).__name__, 'api_calls': self.api_calls}
        for attribute in ('code', 'status', 'wait_seconds'):
            if getattr(source, attribute, None) is not None:
                details['qualys_%s' % attribute] = getattr(source, attribute)
        details.update(result)
        self.fail_json(msg=str(exc), **details)
