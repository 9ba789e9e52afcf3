# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for every unit test of a module: run its main() with given arguments and read its result.

Shaped like community.hashi_vault's: module arguments come in through ``patch_ansible_module``
(indirect parametrization), the result comes out of exit_json/fail_json as the JSON a controller reads.
"""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.testing import patch_module_args


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
