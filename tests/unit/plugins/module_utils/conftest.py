# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fixtures for the Qualys client unit tests."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_client import QualysClient
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.qualys_fakes import PASSWORD, FakeSession


@pytest.fixture
def make_client():
    """make_client(answers, max_wait=300) -> (client, session, sleeps)."""
    def _make(answers, max_wait=300):
        session = FakeSession(answers)
        sleeps = []
        client = QualysClient('https://qualysapi.qualys.eu', 'api_user', PASSWORD, max_wait=max_wait,
                              sleep=sleeps.append, jitter=lambda low, high: 1.0, session=session)
        return client, session, sleeps
    return _make
