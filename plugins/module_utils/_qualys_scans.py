# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Launch planning, safe (re)launch and status of VM scans, on top of QualysClient.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

import datetime
import re
import time

from ansible_collections.roamscan.qualys.plugins.module_utils import _qualys_targets as targets_lib
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import (
    QualysError,
    QualysParseError,
    QualysTransportError,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_xml import ACTIVE_STATES, TERMINAL_STATES
from ansible_collections.roamscan.qualys.plugins.module_utils._time import format_time, parse_time

SCAN_REF = re.compile(r'^scan/([0-9]+)\.[0-9]+$')
# Margin before the oldest ref's epoch when listing scans by launch time: the epoch in a ref is
# the platform's clock at launch, which may differ a little from LAUNCH_DATETIME.
LIST_MARGIN_SEC = 86400
# Resuming an intent, scans launched up to this long before its recorded time still count: LAUNCH_DATETIME
# is Qualys' clock, the intent's time the controller's.
RESUME_CLOCK_MARGIN_SEC = 3600


class LaunchUndecided(QualysError):
    """Resuming an intent, Qualys could not tell whether its scan exists: nothing was launched."""


class LaunchIncomplete(QualysError):
    """A launch failed; .scans holds the scans launched (or reused) before it, .cause the error."""

    def __init__(self, message, scans, cause):
        super().__init__(message)
        self.scans = scans
        self.cause = cause


def plan_launches(targets, title, max_targets_per_scan=None):
    """Validate and split targets into the fewest launches; raises InvalidTarget before any call."""
    chunks = targets_lib.split(targets_lib.parse_targets(targets), max_targets_per_scan)
    plan = []
    for number, chunk in enumerate(chunks, 1):
        plan.append({
            'title': title if len(chunks) == 1 else '%s [%d/%d]' % (title, number, len(chunks)),
            'targets': targets_lib.format_targets(chunk),
            'intervals': chunk,
        })
    return plan


def last_scan_of(client, username):
    """One scan-list call, answered with at most one scan: ``{ref, launched, state}`` of the last scan ``username``
    launched (the list's default window, 30 days), None when there is none. Proves the login works."""
    scans = client.list_scans({'user_login': username, 'show_last': '1'})
    return {key: scans[0][key] for key in ('ref', 'launched', 'state')} if scans else None


def _active_scans(client, username):
    """One scan-list call: this user's scans that are still Queued/Loading/Running."""
    return client.list_scans({'state': ','.join(ACTIVE_STATES), 'user_login': username})


def resume_list_params(username, since):
    """One scan-list call: this user's scans in ANY state launched from ``since`` (minus the clock margin) on.

    The API has no title filter (reference 5.1), so the title is matched client-side. There is no
    upper bound: a scan launched by an earlier resume of the same intent is later than ``since``.
    """
    after = parse_time(since) - datetime.timedelta(seconds=RESUME_CLOCK_MARGIN_SEC)
    return {'user_login': username, 'launched_after_datetime': format_time(after)}


def _matching_active(active, item):
    """An active scan with the same title whose targets cover this launch's targets."""
    for scan in active:
        covered = targets_lib.parse_target_text(scan['target'])
        if scan['title'] == item['title'] and covered is not None and targets_lib.covers(covered, item['intervals']):
            return scan
    return None


class _ScanLookup:
    """Finds the scan Qualys may already run for a plan item, before anything is launched.

    Normally (``reuse_active``) one call lists the active scans and a scan of the same title covering the
    targets is reused. Resuming an intent (``resume_since``) one call lists every scan launched since the
    intent was recorded: the one titled like the item is reused whatever its state, and when Qualys cannot
    tell (error, several candidates) nothing is launched.
    """

    def __init__(self, client, username, reuse_active, resume_since, recover_lost=False):
        self.client = client
        self.username = username
        self.reuse_active = reuse_active
        self.recover_lost = recover_lost
        self.resume_since = resume_since
        self.scans = self._list() if resume_since or reuse_active else []

    def _list(self):
        if not self.resume_since:
            return _active_scans(self.client, self.username)
        try:
            return self.client.list_scans(resume_list_params(self.username, self.resume_since))
        except QualysError as exc:
            raise LaunchUndecided('cannot tell whether Qualys already runs the scan of the intent recorded at %s, '
                                  'so nothing was launched (the next run asks again): %s'
                                  % (self.resume_since, exc)) from None

    def find(self, item):
        if not self.resume_since:
            return _matching_active(self.scans, item)
        same_title = [scan for scan in self.scans if scan['title'] == item['title']]
        if len(same_title) > 1:
            raise LaunchUndecided(
                '%d scans titled "%s" were launched by %s since the intent was recorded (%s): %s. Cannot tell which '
                'one this intent launched, so nothing was launched; cancel the extra scans in Qualys'
                % (len(same_title), item['title'], self.username, self.resume_since,
                   ', '.join('%s (%s)' % (scan['ref'], scan['state']) for scan in same_title)))
        return same_title[0] if same_title else None

    def look_again(self, item):
        """After a lost launch answer: one more listing (None without reuse_active, resume_since or recover_lost)."""
        if not (self.resume_since or self.reuse_active or self.recover_lost):
            return None
        self.scans = self._list()
        return self.find(item)


def _result(item, ref, scan_id, reused, state=None):
    return {'ref': ref, 'id': scan_id, 'title': item['title'], 'targets': item['targets'], 'reused': reused,
            'state': state}


def _reused(item, scan, warn):
    covered = targets_lib.parse_target_text(scan['target'])
    if warn and covered is not None and not targets_lib.covers(covered, item['intervals']):
        warn('scan %s ("%s") does not cover every target of this launch; the laptops it misses stay unscanned'
             % (scan['ref'], item['title']))
    return _result(item, scan['ref'], None, True, scan['state'])


def launch_plan(client, plan, launch_options, username, reuse_active=True, warn=None, resume_since=None, recover_lost=False):
    """Launch every plan item (reusing the scans Qualys already has for it); returns the scans.

    Every item is matched against Qualys' scans before the first launch, so an undecidable resume
    launches nothing. A launch whose answer is lost is never re-sent: one more scan-list call looks for
    the scan Qualys may have started (with reuse_active, resume_since or recover_lost: the lookup only after a
    loss); otherwise the error says so.
    """
    lookup = _ScanLookup(client, username, reuse_active, resume_since, recover_lost)
    existing = [lookup.find(item) for item in plan]
    done = []
    for item, found in zip(plan, existing):
        if found:
            done.append(_reused(item, found, warn))
            continue
        params = dict(launch_options, scan_title=item['title'], ip=','.join(item['targets']))
        try:
            launched = client.launch_scan(params)
        except QualysTransportError as exc:
            try:
                recovered = lookup.look_again(item)
            except QualysError as again:
                raise LaunchIncomplete('%s. Looking for the scan afterwards failed too (%s); a re-run with reuse_active '
                                       'or resume finds it if Qualys started it.' % (exc, again), done, exc) from None
            if recovered is None:
                if reuse_active or resume_since or recover_lost:
                    hint = ('No scan titled "%s" was found afterwards, so it was most likely not launched; '
                            're-running is safe.' % item['title'])
                else:
                    hint = 'Re-running with reuse_active=true returns that scan instead of launching a second one.'
                raise LaunchIncomplete('%s. %s' % (exc, hint), done, exc) from None
            if warn:
                warn('the answer to launching "%s" was lost (%s); found the scan Qualys started: %s'
                     % (item['title'], type(exc).__name__, recovered['ref']))
            done.append(_reused(item, recovered, None))
            continue
        except QualysError as exc:
            raise LaunchIncomplete('%s%s' % (exc, _invalid_choice_hint(exc)), done, exc) from None
        done.append(_result(item, launched['ref'], launched['id'], False))
    return done


# launch parameter: (what it names, this module's option, the scan cycle's variable)
LAUNCH_CHOICES = {
    'option_title': ('option profile', 'option_profile', 'roamscan_option_profile'),
    'option_id': ('option profile', 'option_profile_id', 'roamscan_option_profile_id'),
    'iscanner_name': ('scanner appliance', 'scanner', 'roamscan_scanner'),
    'iscanner_id': ('scanner appliance', 'scanner_ids', 'roamscan_scanner_ids'),
}
_INVALID_PARAMETER = re.compile(r'parameter (\w+) has invalid value')


def _invalid_choice_hint(exc):
    """What to fix when Qualys refused the option profile or scanner (1905 names the API parameter)."""
    match = _INVALID_PARAMETER.search(getattr(exc, 'text', None) or '')
    if getattr(exc, 'code', None) != '1905' or not match or match.group(1) not in LAUNCH_CHOICES:
        return ''
    what, option, variable = LAUNCH_CHOICES[match.group(1)]
    return ('. Qualys has no %s by that name or ID for this account: fix option %s (in the scan cycle: the variable %s)'
            % (what, option, variable))


def _ref_epoch(ref):
    match = SCAN_REF.match(ref)
    return int(match.group(1)) if match else None


def validate_refs(refs):
    bad = [ref for ref in refs if _ref_epoch(ref) is None]
    if bad:
        raise ValueError('not Qualys scan references (scan/<digits>.<digits>): %s' % ', '.join(bad[:10]))


def list_params_for(refs):
    """Scan-list filter that returns all refs in ONE call.

    The API filters by a single scan_ref only, so several refs are read as "scans launched since
    the oldest ref's epoch minus a day" and matched here (reference 4.2: REFERENCE carries the
    launch epoch; 5.1: launched_after_datetime).
    """
    if len(refs) == 1:
        return {'scan_ref': refs[0]}
    oldest = min(_ref_epoch(ref) for ref in refs) - LIST_MARGIN_SEC
    return {'launched_after_datetime': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(oldest))}


def _ip_sort_key(ip):
    return tuple(int(part) for part in ip.split('.'))


def classify_results(target_text, results):
    """(scanned, not_scanned) for one finished scan from its fetch JSON.

    A target counts as scanned only with positive evidence it was alive: a finding for its IP or a
    listing under "no vulnerabilities match". Everything else is not_scanned with the reason Qualys
    gave, or 'no_result' when Qualys said nothing about it.
    """
    intervals = targets_lib.parse_target_text(target_text)
    if intervals is None:
        raise QualysParseError('scan TARGET is not a list of IPs/ranges: %.200s' % target_text)
    target_ips = targets_lib.expand(intervals)
    alive = set(results['finding_ips'])
    for text in results['no_vuln']:
        alive.update(targets_lib.expand(targets_lib.parse_target_text(text) or []))
    reasons = {}
    for reason, texts in results['not_scanned'].items():
        for text in texts:
            for ip in targets_lib.expand(targets_lib.parse_target_text(text) or []):
                reasons.setdefault(ip, reason)
    scanned = [ip for ip in target_ips if ip in alive and ip not in reasons]
    not_scanned = [{'ip': ip, 'reason': reasons.get(ip, 'no_result')} for ip in target_ips
                   if ip not in alive or ip in reasons]
    return sorted(scanned, key=_ip_sort_key), sorted(not_scanned, key=lambda e: _ip_sort_key(e['ip']))


def read_status(client, refs, results_cache):
    """One scan-list call for all refs, plus one fetch per scan newly Finished and processed.

    results_cache (ref -> (scanned, not_scanned)) keeps fetched results across polls.
    """
    listed = {scan['ref']: scan for scan in client.list_scans(list_params_for(refs))}
    report = []
    for ref in refs:
        scan = listed.get(ref)
        if scan is None:
            report.append({'ref': ref, 'title': None, 'state': None, 'sub_state': None, 'processed': False,
                           'launched': None, 'duration': None, 'targets': [], 'done': True, 'scanned': [],
                           'not_scanned': [], 'found': False})
            continue
        state = scan['state']
        done = state in TERMINAL_STATES and (state != 'Finished' or scan['processed'])
        scanned, not_scanned = [], []
        if done and state == 'Finished':
            if ref not in results_cache:
                results_cache[ref] = classify_results(scan['target'], client.fetch_scan_results(ref))
            scanned, not_scanned = results_cache[ref]
        intervals = targets_lib.parse_target_text(scan['target'])
        report.append({
            'ref': ref, 'title': scan['title'], 'state': state, 'sub_state': scan['sub_state'],
            'processed': scan['processed'], 'launched': scan['launched'], 'duration': scan['duration'],
            'targets': targets_lib.format_targets(intervals) if intervals is not None
            else [t.strip() for t in (scan['target'] or '').split(',') if t.strip()],
            'done': done, 'scanned': scanned, 'not_scanned': not_scanned, 'found': True,
        })
    return report


def poll_until_done(client, refs, wait, wait_timeout, poll_interval, sleep=time.sleep, monotonic=time.monotonic):
    """Poll (one list call per poll) until every scan is done or wait_timeout passes.

    Returns (report, timed_out).
    """
    deadline = monotonic() + wait_timeout
    cache = {}
    while True:
        report = read_status(client, refs, cache)
        if not wait or all(scan['done'] for scan in report):
            return report, False
        if monotonic() + poll_interval > deadline:
            return report, True
        sleep(poll_interval)
