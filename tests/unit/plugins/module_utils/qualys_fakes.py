# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fakes for the Qualys unit tests: a scripted requests-like session and the real samples."""
from __future__ import annotations

from pathlib import Path

from requests.structures import CaseInsensitiveDict

SAMPLES = Path(__file__).parent / 'fixtures' / 'qualys'
PASSWORD = 'Pw-unit-7f3c9e'


def sample(name):
    return (SAMPLES / name).read_text(encoding='utf-8')


class FakeResponse:
    def __init__(self, status, text='', headers=None):
        self.status_code = status
        self.text = text
        self.headers = CaseInsensitiveDict(headers or {})


class FakeSession:
    """Answers each post() with the next scripted FakeResponse, or raises it if it is an exception."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        self.headers = {}
        self.auth = None
        self.verify = None

    def post(self, url, params=None, data=None, timeout=None, allow_redirects=True):
        self.requests.append({'url': url, 'params': dict(params or {}), 'data': dict(data or {}),
                              'timeout': timeout, 'allow_redirects': allow_redirects})
        if not self.answers:
            raise AssertionError('unexpected extra request to %s' % url)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer
