# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the Qualys modules' unit tests (``patch_ansible_module`` and ``run_module`` are in tests/unit/conftest.py)."""
from __future__ import annotations

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils import _qualys_client
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import FakeResponse, FakeSession, sample


class ScriptedQualys:
    """The Qualys API as the modules' HTTP session sees it: scripted answers, recorded requests."""

    def __init__(self):
        self.session = FakeSession([])

    def answer(self, sample_name=None, status=200, text=None, headers=None):
        """Queue the next answer: a recorded sample (fixtures/qualys) or ``text``."""
        body = sample(sample_name) if sample_name else text
        self.session.answers.append(FakeResponse(status, body, headers or {
            'X-Ratelimit-Limit': '300', 'X-Ratelimit-Window-Sec': '3600', 'X-Ratelimit-Remaining': '297'}))
        return self

    @property
    def requests(self):
        return self.session.requests

    def actions(self):
        return [request['params'].get('action') for request in self.requests]


@pytest.fixture
def qualys_api(monkeypatch):
    """Every QualysClient the module builds talks to this ScriptedQualys instead of the network."""
    api = ScriptedQualys()
    monkeypatch.setattr(_qualys_client.requests, 'Session', lambda: api.session)
    return api


@pytest.fixture
def module_warnings(monkeypatch):
    """The messages the module passes to warn(), in order (the result's own list is shaped per ansible-core version)."""
    warnings = []
    monkeypatch.setattr(AnsibleModule, 'warn', lambda module, message: warnings.append(message))
    return warnings


@pytest.fixture
def fails_without_calls(qualys_api, run_module):
    """fails_without_calls(main, message): main() fails saying ``message`` and never called Qualys."""
    def _check(main, message):
        failed, result = run_module(main)
        assert failed and message in result['msg'], result
        assert qualys_api.requests == []
    return _check
