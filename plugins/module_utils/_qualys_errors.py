# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Typed errors raised by the Qualys client; only a module's main() turns them into fail_json.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations


class QualysError(Exception):
    """Base class of every error the Qualys client raises."""


class QualysConfigError(QualysError):
    """Connection options that cannot work (bad URL, unknown platform, ...)."""


class QualysTransportError(QualysError):
    """No usable HTTP answer: connection refused/reset, timeout, 5xx after retries."""


class QualysLaunchOutcomeUnknown(QualysTransportError):
    """A launch was sent but its answer was lost: Qualys may or may not have started the scan."""


class QualysUnavailableError(QualysTransportError):
    """Qualys answered with an HTML page instead of XML (maintenance, proxy, 5xx page)."""

    def __init__(self, message, status=None, page_title=None):
        super().__init__(message)
        self.status = status
        self.page_title = page_title


class QualysParseError(QualysError):
    """The answer is not well-formed or not the XML/JSON the API documents."""


class QualysUnsafeXmlError(QualysParseError):
    """The answer carried entity/DTD declarations (XML bomb, external entities): refused unparsed."""


class QualysApiError(QualysError):
    """Qualys answered with a SIMPLE_RETURN error CODE (possibly inside HTTP 200)."""

    def __init__(self, message, code=None, text=None, status=None):
        super().__init__(message)
        self.code = code
        self.text = text
        self.status = status


class QualysAuthError(QualysApiError):
    """Bad login/password, expired account, wrong platform or no API access (2000-series)."""


class QualysRateLimitError(QualysApiError):
    """HTTP 409 rate limit (1965) whose wait is longer than max_wait, or retries exhausted."""

    def __init__(self, message, code=None, text=None, status=409, wait_seconds=None):
        super().__init__(message, code=code, text=text, status=status)
        self.wait_seconds = wait_seconds


class QualysConcurrencyError(QualysRateLimitError):
    """HTTP 409 concurrency limit (1960) still hit after the bounded back-off."""
