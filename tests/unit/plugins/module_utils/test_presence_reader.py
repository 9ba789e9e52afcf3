# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""read_presence's errors: a spool the module may not open says that the DHCP server tasks need become."""
from __future__ import annotations

import builtins
import os

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._presence_reader import PresenceReadError, read_presence
from ansible_collections.roamscan.qualys.plugins.module_utils._spool import Spool


def shape(records, table, skipped):
    return {'events': records, 'leases': table}


def refuse(*args, **kwargs):
    raise PermissionError(13, 'Permission denied', args[0] if args else None)


@pytest.mark.parametrize('call', ['listdir', 'open'])
def test_permission_denied_on_the_spool_says_to_use_become(tmp_path, monkeypatch, call):
    # as root nothing is refused, so the denial an unprivileged user gets is raised where the spool opens its files
    if call == 'listdir':
        monkeypatch.setattr(os, 'listdir', refuse)
    else:
        monkeypatch.setattr(os, 'open', refuse)
        monkeypatch.setattr(builtins, 'open', refuse)
    with pytest.raises(PresenceReadError) as caught:
        read_presence(str(tmp_path), None, False, True, None, shape, spool=Spool(str(tmp_path)))
    assert 'Permission denied' in str(caught.value) and 'with become' in str(caught.value)
    assert 'ansible_become: true for the dhcp_servers group' in str(caught.value)


def test_other_spool_errors_carry_no_become_hint(tmp_path):
    with pytest.raises(PresenceReadError) as caught:
        read_presence(str(tmp_path / 'missing'), None, False, True, None, shape)
    assert 'does not exist' in str(caught.value) and 'become' not in str(caught.value)
