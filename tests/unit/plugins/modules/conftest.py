# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for module unit tests: run a module's main() with given arguments and read its result.

Shaped like community.hashi_vault's: module arguments come in through ``patch_ansible_module``
(indirect parametrization), the result comes out of exit_json/fail_json as the JSON a controller reads.
"""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.roamscan.qualys.plugins.module_utils import _qualys_client
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import FakeResponse, FakeSession, sample


@pytest.fixture
def patch_ansible_module(request):
    """The module arguments (``request.param``, a dict), as Ansible would pass them; yields them.

    ``_ansible_check_mode: true`` among them runs the module in check mode.
    """
    args = dict(request.param)
    args.setdefault('_ansible_remote_tmp', '/tmp')
    args.setdefault('_ansible_keep_remote_files', False)
    with patch_module_args(args):
        yield args


@pytest.fixture
def run_module(capfd):
    """run_module(main) -> (failed, result): main() run to its exit_json/fail_json, the JSON it printed."""
    def _run(main):
        with pytest.raises(SystemExit) as exited:
            main()
        out, dummy = capfd.readouterr()
        result = json.loads(out)
        assert (exited.value.code != 0) == bool(result.get('failed')), result
        return bool(result.get('failed')), result
    return _run


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
