# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HTTP client for the Qualys VM ("FO") API used by the roamscan.qualys modules.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Rules it enforces (see docs/architecture.md and the Qualys reference):
- Basic auth and ``X-Requested-With`` on every call; redirects are never followed.
- Reads are retried on connection errors and 5xx; a launch is never re-sent blindly.
- HTTP 409: 1965 (rate) waits the time Qualys names if it fits ``max_wait``, else fails at once;
  1960 (concurrency) backs off a bounded number of times with jitter.
- Every body is parsed: error CODEs arrive inside HTTP 200 too; HTML pages become typed errors.
- The password never appears in a message: every error text is scrubbed before it leaves.
"""

from __future__ import annotations

import random
import re
import time
import traceback
from urllib.parse import urlsplit

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import (
    QualysApiError,
    QualysAuthError,
    QualysConcurrencyError,
    QualysConfigError,
    QualysError,
    QualysLaunchOutcomeUnknown,
    QualysParseError,
    QualysRateLimitError,
    QualysTransportError,
    QualysUnavailableError,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_xml import (
    parse_host_list,
    parse_scan_list,
    parse_scan_results_json,
    parse_simple_return,
    parse_xml,
)

try:
    import requests
except ImportError:
    HAS_REQUESTS = False
    REQUESTS_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_REQUESTS = True
    REQUESTS_IMPORT_ERROR = None

CLIENT_NAME = 'roamscan.qualys Ansible collection'

# API servers (reference section 2). The VM API lives on qualysapi.*, not on the gateway.
PLATFORMS = {
    'US1': 'https://qualysapi.qualys.com',
    'US2': 'https://qualysapi.qg2.apps.qualys.com',
    'US3': 'https://qualysapi.qg3.apps.qualys.com',
    'US4': 'https://qualysapi.qg4.apps.qualys.com',
    'EU1': 'https://qualysapi.qualys.eu',
    'EU2': 'https://qualysapi.qg2.apps.qualys.eu',
    'EU3': 'https://qualysapi.qg3.apps.qualys.it',
    'IN1': 'https://qualysapi.qg1.apps.qualys.in',
    'CA1': 'https://qualysapi.qg1.apps.qualys.ca',
    'AE1': 'https://qualysapi.qg1.apps.qualys.ae',
    'UK1': 'https://qualysapi.qg1.apps.qualys.co.uk',
    'AU1': 'https://qualysapi.qg1.apps.qualys.com.au',
    'KSA1': 'https://qualysapi.qg1.apps.qualysksa.com',
}

# Operation -> (action, paths newest first, may it be re-sent after a lost answer?).
# Older paths are tried only when a newer one answers 404 or 1901 (reference section 3).
OPERATIONS = {
    'scan_launch': ('launch', ('/api/2.0/fo/scan/',), False),
    'scan_fetch': ('fetch', ('/api/2.0/fo/scan/',), True),
    'scan_list': ('list', ('/api/3.0/fo/scan/', '/api/2.0/fo/scan/'), True),
    'host_list': ('list', ('/api/5.0/fo/asset/host/', '/api/4.0/fo/asset/host/',
                           '/api/3.0/fo/asset/host/', '/api/2.0/fo/asset/host/'), True),
}

AUTH_CODES = frozenset(('2000', '2001', '2002', '2003', '2011', '2014'))
RATE_CODE = '1965'
CONCURRENCY_CODE = '1960'
UNRECOGNIZED_PARAMETER_CODE = '1901'
RETRYABLE_STATUS = frozenset((500, 502, 503, 504))

TRANSPORT_RETRIES = 3
TRANSPORT_BACKOFF_SEC = 1.0
RATE_WAITS = 5
CONCURRENCY_RETRIES = 5
CONCURRENCY_BACKOFF_SEC = 2.0
CONCURRENCY_BACKOFF_CAP_SEC = 30.0
CONNECT_TIMEOUT_CAP_SEC = 30.0
HOST_LIST_PAGE_LIMIT = 1000
MAX_HOST_LIST_PAGES = 1000

_LOOPBACK_HOSTS = ('127.0.0.1', 'localhost', '::1')
_WAIT_TEXT = re.compile(r'(\d+)\s*(day|hour|minute|second)s?', re.IGNORECASE)
_WAIT_UNITS = {'day': 86400, 'hour': 3600, 'minute': 60, 'second': 1}


def resolve_base_url(api_url=None, platform=None):
    """Base URL (scheme://host[:port]) from exactly one of api_url / platform.

    Plain http is accepted only for loopback (the simulator); Basic auth must not cross a network
    in clear text.
    """
    if bool(api_url) == bool(platform):
        raise QualysConfigError('set exactly one of api_url and platform')
    if platform:
        key = platform.upper()
        if key not in PLATFORMS:
            raise QualysConfigError('unknown Qualys platform %r; known: %s' % (platform, ', '.join(PLATFORMS)))
        return PLATFORMS[key]
    parts = urlsplit(api_url.strip())
    if parts.scheme not in ('https', 'http') or not parts.hostname:
        raise QualysConfigError('api_url must look like https://qualysapi.example.com')
    if parts.username or parts.password:
        raise QualysConfigError('api_url must not carry credentials; use username and password')
    if parts.scheme == 'http' and parts.hostname not in _LOOPBACK_HOSTS:
        raise QualysConfigError('api_url must use https (plain http is allowed only for loopback)')
    if parts.path.strip('/') or parts.query or parts.fragment:
        raise QualysConfigError('api_url is the server only (e.g. https://qualysapi.qualys.com), without a path')
    return '%s://%s' % (parts.scheme, parts.netloc)


def _html_title(body):
    match = re.search(r'<title[^>]*>(.*?)</title>', body[:8192], re.IGNORECASE | re.DOTALL)
    if not match:
        return None
    return ' '.join(match.group(1).split())[:120] or None


def _looks_like_html(text):
    head = text.lstrip()[:200].lower()
    return head.startswith('<html') or head.startswith('<!doctype html') or '<html' in head


def _wait_from_text(text):
    """Seconds named by "cannot be run again for another 23 hours, 57 minutes and 54 seconds"."""
    found = _WAIT_TEXT.findall(text or '')
    if not found:
        return None
    return sum(int(amount) * _WAIT_UNITS[unit.lower()] for amount, unit in found)


def describe_seconds(seconds):
    """'3 h 2 min 5 s (10925 s)' - used in messages that name a wait."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    parts = []
    if hours:
        parts.append('%d h' % hours)
    if minutes:
        parts.append('%d min' % minutes)
    if secs or not parts:
        parts.append('%d s' % secs)
    text = ' '.join(parts)
    return text if seconds < 60 else '%s (%d s)' % (text, seconds)


def _int_header(headers, name):
    value = headers.get(name)
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _PathUnavailable(Exception):
    """This API version path is gone (404 / 1901): the caller tries the next older one."""

    def __init__(self, error):
        super().__init__(str(error))
        self.error = error


class QualysClient:
    """One authenticated session; counts calls and remembers the last rate-limit headers per API."""

    def __init__(self, base_url, username, password, validate_certs=True, timeout=120, max_wait=300,
                 sleep=time.sleep, jitter=random.uniform, session=None):
        if not username or not password:
            raise QualysConfigError('username and password are required')
        self.base_url = base_url.rstrip('/')
        self.username = username
        self._password = password
        self.timeout = (min(float(timeout), CONNECT_TIMEOUT_CAP_SEC), float(timeout))
        self.max_wait = float(max_wait)
        self._sleep = sleep
        self._jitter = jitter
        if session is None:
            if not HAS_REQUESTS:
                raise QualysConfigError('the Python library requests is required')
            session = requests.Session()
        session.auth = (username, password)
        session.verify = validate_certs
        session.headers.update({'X-Requested-With': CLIENT_NAME, 'User-Agent': CLIENT_NAME})
        self._session = session
        self.api_calls = 0
        self.calls_by_operation = {}
        self.rate_limits = {}
        self.blocked = {}
        self.waited_seconds = 0.0
        self._path_index = {}

    # -- public operations -------------------------------------------------------------------

    def launch_scan(self, params):
        """POST action=launch -> {'ref', 'id'}; raises QualysLaunchOutcomeUnknown if the answer is lost."""
        result = parse_simple_return(self.call_xml('scan_launch', params))
        ref = result['items'].get('REFERENCE')
        if not ref:
            raise QualysParseError('launch answer has no REFERENCE item (TEXT: %s)' % self._scrub(result['text']))
        return {'ref': ref, 'id': result['items'].get('ID')}

    def list_scans(self, params):
        return parse_scan_list(self.call_xml('scan_list', params))

    def fetch_scan_results(self, scan_ref):
        body = self.call('scan_fetch', {'scan_ref': scan_ref, 'output_format': 'json', 'mode': 'brief'})
        if body.lstrip()[:1] != '[':
            self._raise_for_xml_answer(body, 200)
            raise QualysParseError('scan results for %s are neither JSON nor a Qualys error' % scan_ref)
        return parse_scan_results_json(body)

    def list_hosts(self, params):
        """All pages of the host list for these filters (each page is one call)."""
        hosts, ids = [], []
        page_params = dict(params)
        page_params.setdefault('truncation_limit', HOST_LIST_PAGE_LIMIT)
        for dummy in range(MAX_HOST_LIST_PAGES):
            page = parse_host_list(self.call_xml('host_list', page_params))
            hosts.extend(page['hosts'])
            ids.extend(page['ids'])
            if page['next_id_min'] is None:
                return {'hosts': hosts, 'ids': ids}
            if page_params.get('id_min') is not None and page['next_id_min'] <= int(page_params['id_min']):
                raise QualysParseError('host list pagination does not advance (id_min %s)' % page['next_id_min'])
            page_params['id_min'] = page['next_id_min']
        raise QualysParseError('host list did not end after %d pages' % MAX_HOST_LIST_PAGES)

    def rate_limit(self, operation):
        """{limit, remaining, window_sec} from the last answer of this API (None when not sent)."""
        seen = self.rate_limits.get(operation, {})
        return {key: seen.get(key) for key in ('limit', 'remaining', 'window_sec')}

    def api_usage(self):
        """Per API used: ``{operation: {calls, limit, window_sec, remaining, to_wait_sec, concurrency_limit,
        concurrency_running, blocked_code}}`` - what the cycle's budget governor keeps (plugin_utils/_budget.py).
        ``blocked_code`` is the last 409 code (1965 rate, 1960 concurrency) of a call that was not answered since."""
        usage = {}
        for operation, calls in self.calls_by_operation.items():
            entry = dict.fromkeys(('limit', 'window_sec', 'remaining', 'to_wait_sec', 'concurrency_limit',
                                   'concurrency_running'))
            entry.update(self.rate_limits.get(operation, {}))
            code, wait = self.blocked.get(operation, (None, None))
            entry.update(calls=calls, blocked_code=code)
            if code and wait:
                entry['to_wait_sec'] = wait
            usage[operation] = entry
        return usage

    # -- transport ---------------------------------------------------------------------------

    def call_xml(self, operation, params):
        body = self.call(operation, params)
        root = parse_xml(body)
        if root.tag == 'SIMPLE_RETURN':
            self._raise_for_simple_return(parse_simple_return(root), 200)
        return root

    def call(self, operation, params):
        """Send one logical call (with fallbacks and retries); returns the body text of a 200."""
        try:
            return self._call_with_fallback(operation, params)
        except QualysError as exc:
            exc.args = tuple(self._scrub(arg) if isinstance(arg, str) else arg for arg in exc.args)
            if getattr(exc, 'text', None):
                exc.text = self._scrub(exc.text)
            if isinstance(exc, QualysAuthError) and exc.args:
                # after scrubbing: the account and URL must read as given, whatever the password is
                exc.args = ('%s; account %r at %s: check that account\'s password and the API URL or platform'
                            % (exc.args[0], self.username, self.base_url),) + exc.args[1:]
            raise

    def _call_with_fallback(self, operation, params):
        action, paths, dummy = OPERATIONS[operation]
        start = self._path_index.get(operation, 0)
        for index in range(start, len(paths)):
            try:
                body = self._send(operation, paths[index], action, params, has_fallback=index + 1 < len(paths))
            except _PathUnavailable as gone:
                if index + 1 == len(paths):
                    raise gone.error from None
                continue
            self._path_index[operation] = index
            return body
        raise QualysConfigError('no API path configured for %s' % operation)

    def _send(self, operation, path, action, params, has_fallback):
        resend_safe = OPERATIONS[operation][2]
        url = self.base_url + path
        transport_failures = 0
        concurrency_blocks = 0
        rate_blocks = 0
        while True:
            self.api_calls += 1
            self.calls_by_operation[operation] = self.calls_by_operation.get(operation, 0) + 1
            try:
                response = self._session.post(url, params={'action': action}, data=params,
                                              timeout=self.timeout, allow_redirects=False)
            except requests.exceptions.RequestException as exc:
                never_sent = isinstance(exc, requests.exceptions.ConnectTimeout) or (
                    isinstance(exc, requests.exceptions.ConnectionError) and 'NewConnectionError' in repr(exc))
                if not resend_safe and not never_sent:
                    raise QualysLaunchOutcomeUnknown(
                        'the %s request to %s was sent but no answer arrived (%s); Qualys may have launched '
                        'the scan, so it is not re-sent' % (action, self.base_url, type(exc).__name__)) from None
                transport_failures += 1
                if transport_failures > TRANSPORT_RETRIES:
                    raise QualysTransportError('cannot reach Qualys at %s after %d attempts: %s'
                                               % (self.base_url, transport_failures, exc)) from None
                self._pause(TRANSPORT_BACKOFF_SEC * 2 ** (transport_failures - 1) * self._jitter(0.5, 1.5))
                continue

            self._remember_rate_headers(operation, response.headers)
            status = response.status_code
            body = response.text
            if status in RETRYABLE_STATUS:
                transport_failures += 1
                if not resend_safe or transport_failures > TRANSPORT_RETRIES:
                    self._raise_for_server_error(status, body, action, resend_safe)
                self._pause(TRANSPORT_BACKOFF_SEC * 2 ** (transport_failures - 1) * self._jitter(0.5, 1.5))
                continue
            if status == 409:
                wait, kind = self._blocked_wait(operation, response, body, rate_blocks, concurrency_blocks)
                if kind == 'rate':
                    rate_blocks += 1
                else:
                    concurrency_blocks += 1
                self._pause(wait)
                continue
            if status == 404:
                error = QualysTransportError('Qualys answered HTTP 404 for %s: this API path does not exist on %s'
                                             % (path, self.base_url))
                if has_fallback:
                    raise _PathUnavailable(error)
                raise error
            if 300 <= status < 400:
                raise QualysTransportError('Qualys answered HTTP %d redirecting to %r for %s; redirects are not '
                                           'followed (check api_url/platform)'
                                           % (status, response.headers.get('Location'), path))
            if status != 200:
                try:
                    self._raise_for_xml_answer(body, status)
                except QualysApiError as exc:
                    if has_fallback and exc.code == UNRECOGNIZED_PARAMETER_CODE:
                        raise _PathUnavailable(exc) from None
                    raise
                raise QualysApiError('Qualys answered HTTP %d without an error code' % status, status=status)
            self.blocked.pop(operation, None)
            if _looks_like_html(body):
                raise QualysUnavailableError('Qualys answered HTTP 200 with an HTML page (%s) instead of XML'
                                             % (_html_title(body) or 'untitled'), status=status,
                                             page_title=_html_title(body))
            return body

    def _pause(self, seconds):
        self.waited_seconds += seconds
        self._sleep(seconds)

    def _remember_rate_headers(self, operation, headers):
        seen = {
            'limit': _int_header(headers, 'X-RateLimit-Limit'),
            'remaining': _int_header(headers, 'X-RateLimit-Remaining'),
            'window_sec': _int_header(headers, 'X-RateLimit-Window-Sec'),
            'to_wait_sec': _int_header(headers, 'X-RateLimit-ToWait-Sec'),
            'concurrency_limit': _int_header(headers, 'X-Concurrency-Limit-Limit'),
            'concurrency_running': _int_header(headers, 'X-Concurrency-Limit-Running'),
        }
        if any(value is not None for value in seen.values()):
            self.rate_limits[operation] = seen

    def _blocked_wait(self, operation, response, body, rate_blocks, concurrency_blocks):
        """Seconds to wait before re-sending a call Qualys blocked with 409, or raise."""
        result = {'code': None, 'text': None, 'items': {}}
        if not _looks_like_html(body):
            try:
                root = parse_xml(body)
                if root.tag == 'SIMPLE_RETURN':
                    result = parse_simple_return(root)
            except QualysParseError:
                pass
        to_wait = _int_header(response.headers, 'X-RateLimit-ToWait-Sec')
        code = result['code']
        if code is None:
            # Body unreadable: the documented header sets still tell the two blocks apart.
            code = RATE_CODE if to_wait else CONCURRENCY_CODE if response.headers.get(
                'X-Concurrency-Limit-Running') else None
        budget_left = self.max_wait - self.waited_seconds
        self.blocked[operation] = (code, to_wait)
        if code == RATE_CODE:
            wait = to_wait or None
            if not wait:
                item = result['items'].get('SECONDS_TO_WAIT')
                wait = int(item) if item and item.isdigit() else _wait_from_text(result['text'])
            self.blocked[operation] = (code, wait)
            if not wait:
                raise QualysRateLimitError('Qualys API rate limit reached for %s and Qualys named no wait time'
                                           % operation, code=code, text=result['text'])
            if rate_blocks >= RATE_WAITS:
                raise QualysRateLimitError('Qualys API rate limit still reached for %s after %d waits (code 1965)'
                                           % (operation, rate_blocks), code=code, text=result['text'],
                                           wait_seconds=wait)
            if wait > budget_left:
                raise QualysRateLimitError(
                    'Qualys API rate limit reached for %s (code 1965): Qualys asks to wait %s, more than the %s '
                    'left of max_wait=%d s; failing now instead of waiting'
                    % (operation, describe_seconds(wait), describe_seconds(max(budget_left, 0)), self.max_wait),
                    code=code, text=result['text'], wait_seconds=wait)
            return wait + 1, 'rate'  # ToWait is whole seconds; one more avoids a second block at the edge
        if code == CONCURRENCY_CODE:
            if concurrency_blocks >= CONCURRENCY_RETRIES:
                raise QualysConcurrencyError(
                    'Qualys API concurrency limit still reached for %s after %d back-offs (code 1960): other '
                    'jobs are using this subscription\'s API slots' % (operation, concurrency_blocks),
                    code=code, text=result['text'])
            delay = min(CONCURRENCY_BACKOFF_SEC * 2 ** concurrency_blocks, CONCURRENCY_BACKOFF_CAP_SEC)
            delay *= self._jitter(0.5, 1.5)
            if delay > budget_left:
                raise QualysConcurrencyError(
                    'Qualys API concurrency limit reached for %s (code 1960) and max_wait=%d s is used up'
                    % (operation, self.max_wait), code=code, text=result['text'], wait_seconds=delay)
            return delay, 'concurrency'
        if result['code']:
            self._raise_for_simple_return(result, 409)
        raise QualysApiError('Qualys blocked the %s call with HTTP 409 and no error code' % operation, status=409)

    def _raise_for_server_error(self, status, body, action, resend_safe):
        note = '' if resend_safe else '; the %s may or may not have been performed' % action
        if _looks_like_html(body):
            title = _html_title(body)
            cause = ' (planned maintenance?)' if status == 503 else ''
            raise QualysUnavailableError('Qualys answered HTTP %d with an HTML page "%s"%s instead of XML%s'
                                         % (status, title or 'untitled', cause, note), status=status,
                                         page_title=title)
        raise QualysTransportError('Qualys answered HTTP %d%s' % (status, note))

    def _raise_for_xml_answer(self, body, status):
        """Raise the typed error an XML (or HTML) error answer describes."""
        if _looks_like_html(body):
            raise QualysUnavailableError('Qualys answered HTTP %d with an HTML page "%s" instead of XML'
                                         % (status, _html_title(body) or 'untitled'), status=status,
                                         page_title=_html_title(body))
        root = parse_xml(body)
        if root.tag == 'SIMPLE_RETURN':
            self._raise_for_simple_return(parse_simple_return(root), status)

    @staticmethod
    def _raise_for_simple_return(result, status):
        code = result['code']
        if code is None:
            return
        text = result['text'] or ''
        error_class = QualysAuthError if code in AUTH_CODES else QualysApiError
        hint = ' (also the answer for a wrong platform or an account without API access)' if code == '2000' else ''
        raise error_class('Qualys error %s (HTTP %d): %s%s' % (code, status, text, hint),
                          code=code, text=text, status=status)

    def _scrub(self, text):
        if text and self._password and self._password in text:
            return text.replace(self._password, '********')
        return text
