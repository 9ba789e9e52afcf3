# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures shared by the laptop store's unit tests."""
from __future__ import annotations

import pytest

from ansible import constants as C


@pytest.fixture
def jsonfile(tmp_path, monkeypatch):
    """The jsonfile fact cache configured the way ansible.cfg would (env), no expiry."""
    monkeypatch.setattr(C, 'CACHE_PLUGIN', 'jsonfile')
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_CONNECTION', str(tmp_path))
    monkeypatch.setenv('ANSIBLE_CACHE_PLUGIN_TIMEOUT', '0')
    monkeypatch.delenv('ANSIBLE_CACHE_PLUGIN_PREFIX', raising=False)
    return tmp_path
