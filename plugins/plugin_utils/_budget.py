# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API budget governor: what Qualys allows each API, what roamscan spent, and what a cycle may call.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Qualys limits every API per subscription (a count per rolling window and a concurrency; HTTP 409
code 1965 / 1960 when blocked). The governor's state is the non-laptop store entry
``roamscan-api-budget``, written by the cycle's summary through the store's fenced writes (so it
survives a crash or a restart and is shared by every controller of a Redis store)::

    {schema: 1,
     apis: {api: {limit, window_sec, remaining, seen_at, concurrency_limit,
                  calls: [time, ...],                 # roamscan's own calls inside the window
                  blocked: {code, until, seen_at} | null}},
     durations: {size: [seconds, ...]},               # learned: launch -> earliest done, per size class
     scans: {ref: {launched_at, targets, not_done_at}},  # pending scans' last "not done yet" poll
     polled_at: time | null,
     host_list: {mac: time}}                          # host-list dates looked up, cached

``api`` is the client's operation name (scan_launch, scan_list, scan_fetch, host_list). What a
cycle may spend on an API is what Qualys said remains (``X-RateLimit-Remaining`` at ``seen_at``,
less roamscan's calls since), less the reserve kept for other tools, within the operator's own
budget per window; and nothing while a 409 Qualys answered is still in force.
"""

from __future__ import annotations

import math

from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time, parse_time
from ansible_collections.roamscan.qualys.plugins.plugin_utils._decide import HELD_BACK_SHOWN
from ansible_collections.roamscan.qualys.plugins.plugin_utils._queue import take

BUDGET_KEY = 'roamscan-api-budget'
SCHEMA = 1
# a window Qualys never named: assume the strictest documented one (Express: per day)
DEFAULT_WINDOW_SEC = 86400
DURATIONS_KEPT = 20
# what a device must stay for while no scan time is learned: a typical light scan plus its processing
LEAD_UNLEARNED_SEC = 900
MIN_SPACING_SEC = 60
# a 409 that named no wait (a concurrency block) holds its API this long
UNNAMED_WAIT_SEC = 60
# the cycle's registered results of Qualys modules (playbooks/scan_overdue.yml)
QUALYS_RESULTS = ('roamscan_status', 'roamscan_elsewhere', 'roamscan_launch')


class InvalidBudget(ValueError):
    """A stored budget entry that is not the shape this collection writes."""


def epoch(text):
    return parse_time(text).timestamp()


def empty_state():
    return {'schema': SCHEMA, 'apis': {}, 'durations': {}, 'scans': {}, 'polled_at': None, 'host_list': {}}


def parse_budget(value):
    """The governor state of a stored entry (None: a fresh state); InvalidBudget when it is something else."""
    if value is None:
        return empty_state()
    if not isinstance(value, dict) or value.get('schema') != SCHEMA:
        raise InvalidBudget('%s is not a schema %d roamscan API budget' % (BUDGET_KEY, SCHEMA))
    state = empty_state()
    for key in ('apis', 'durations', 'scans', 'host_list'):
        if not isinstance(value.get(key, {}), dict):
            raise InvalidBudget('%s: %s is not a mapping' % (BUDGET_KEY, key))
        state[key] = dict(value.get(key) or {})
    state['polled_at'] = value.get('polled_at')
    try:
        _check_shape(state)
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidBudget('%s is malformed: %s' % (BUDGET_KEY, exc)) from None
    return state


def _check_shape(state):
    """Every time and number where the planner reads one (a hand-edited or damaged entry fails here, clearly)."""
    for api, seen in state['apis'].items():
        if not isinstance(seen, dict) or not isinstance(seen.get('calls', []), list):
            raise ValueError('API %s is not {limit, window_sec, remaining, calls, ...}' % api)
        for at in seen.get('calls', []):
            parse_time(at)
        for key in ('limit', 'window_sec', 'remaining', 'concurrency_limit'):
            if seen.get(key) is not None and (isinstance(seen[key], bool) or not isinstance(seen[key], int)):
                raise ValueError('API %s: %s is not a number' % (api, key))
        for key in ('seen_at',):
            if seen.get(key) is not None:
                parse_time(seen[key])
        if seen.get('blocked') is not None:
            parse_time(seen['blocked']['until'])
    for size, learned in state['durations'].items():
        if not isinstance(learned, list) or not all(isinstance(item, int) and not isinstance(item, bool) for item in learned):
            raise ValueError('durations of size %s are not a list of seconds' % size)
    for ref, known in state['scans'].items():
        parse_time(known['launched_at'])
        if known.get('not_done_at') is not None:
            parse_time(known['not_done_at'])
    for at in state['host_list'].values():
        parse_time(at)
    if state['polled_at'] is not None:
        parse_time(state['polled_at'])


def size_class(targets):
    """Scans of 'similar size': the same power of ten of targets (1-9, 10-99, ...)."""
    return str(int(math.log10(max(int(targets or 1), 1))))


# -- what the cycle spent and what Qualys said --------------------------------------------------

def fold_cycle(state, results, now, settings):
    """Fold one cycle into ``state``: ``results`` are its registered results by variable - the Qualys modules'
    ``api_usage``, the status poll (what it teaches about scan times) and the host-list lookup (dates now cached)."""
    for variable in QUALYS_RESULTS:
        result = results.get(variable)
        if isinstance(result, dict):
            fold_usage(state, result.get('api_usage'), now)
    status, remembered = results.get('roamscan_status'), results.get('roamscan_remembered')
    if isinstance(status, dict) and not status.get('failed') and not status.get('skipped') and isinstance(remembered, dict):
        polled = set(remembered.get('poll_scan_refs') or [])
        learn_scans(state, [item for item in remembered.get('pending_scans') or [] if item['ref'] in polled],
                    status.get('scans'), now)
    looked_up = results.get('roamscan_elsewhere')
    if isinstance(looked_up, dict) and not looked_up.get('failed') and not looked_up.get('skipped'):
        remember_host_list(state, [host['mac'] for host in looked_up.get('hosts') or [] if isinstance(host, dict) and host.get('mac')],
                           now, settings['host_list_cache_hours'])
    return state


def fold_usage(state, usage, now):
    """Add one Qualys module's ``api_usage`` (``{api: {calls, limit, window_sec, remaining, concurrency_limit,
    blocked_code, to_wait_sec}}``) seen at ``now`` to ``state``."""
    for api, seen in (usage or {}).items():
        if not isinstance(seen, dict):
            continue
        entry = state['apis'].setdefault(api, {'limit': None, 'window_sec': None, 'remaining': None, 'seen_at': None,
                                               'concurrency_limit': None, 'calls': [], 'blocked': None})
        calls = int(seen.get('calls') or 0)
        entry['calls'] = list(entry.get('calls') or []) + [now] * calls
        if seen.get('limit') is not None:
            entry.update(limit=seen['limit'], window_sec=seen.get('window_sec'), remaining=seen.get('remaining'),
                         seen_at=now)
        if seen.get('concurrency_limit') is not None:
            entry['concurrency_limit'] = seen['concurrency_limit']
        if seen.get('blocked_code'):
            # a block's Remaining is 0 until its wait ends; after that Qualys frees calls, so only the wait is kept
            entry['remaining'] = None
            wait = int(seen.get('to_wait_sec') or 0)
            entry['blocked'] = {'code': seen['blocked_code'], 'seen_at': now,
                                'until': iso_time(epoch(now) + (wait or UNNAMED_WAIT_SEC))}
    _prune(state, now)


def _prune(state, now):
    moment = epoch(now)
    for entry in state['apis'].values():
        window = entry.get('window_sec') or DEFAULT_WINDOW_SEC
        entry['calls'] = [at for at in entry.get('calls') or [] if epoch(at) > moment - window]
        if entry.get('blocked') and entry['blocked']['until'] <= now:
            entry['blocked'] = None


def learn_scans(state, pending, scans, now):
    """Learn from one status poll: ``pending`` ``[{ref, launched_at, targets}]`` (the scans asked about),
    ``scans`` qualys_scan_status' ``scans``. A scan seen done teaches a lower bound of the time from launch to done
    for its size: the time of its last "not done yet" poll, on this controller's clock (Qualys' DURATION leaves out
    queue and processing time, and comes from another clock)."""
    by_ref = {scan.get('ref'): scan for scan in scans or [] if isinstance(scan, dict)}
    for item in pending:
        scan = by_ref.get(item['ref'])
        if scan is None:
            continue
        known = state['scans'].setdefault(item['ref'], {'launched_at': item['launched_at'], 'targets': item['targets'],
                                                        'not_done_at': None})
        if not scan.get('done'):
            known['not_done_at'] = now
            continue
        state['scans'].pop(item['ref'], None)
        if scan.get('state') != 'Finished':
            continue
        if not known.get('not_done_at'):
            continue   # done at its first poll: no bound learned
        learned = state['durations'].setdefault(size_class(item['targets']), [])
        learned.append(int(max(epoch(known['not_done_at']) - epoch(item['launched_at']), 0)))
        del learned[:-DURATIONS_KEPT]
    live = {item['ref'] for item in pending}
    state['scans'] = {ref: value for ref, value in state['scans'].items() if ref in live}
    state['polled_at'] = now


def remember_host_list(state, macs, now, cache_hours):
    """Remember when each of ``macs`` had its host-list date looked up; forget lookups older than the cache."""
    state['host_list'] = {mac: at for mac, at in state['host_list'].items() if epoch(at) > epoch(now) - cache_hours * 3600}
    state['host_list'].update({mac: now for mac in macs})


# -- what a cycle may spend ---------------------------------------------------------------------

def allowance(state, api, now, settings):
    """``{usable, limit, window_sec, reserve, spent, next_at, why}`` for ``api`` now.

    ``usable`` calls may be made now without eating into the reserve or the operator's budget; ``next_at`` is
    when one more call frees (None: none is needed); ``why`` says what limits it.
    """
    entry = state['apis'].get(api) or {}
    moment = epoch(now)
    window = entry.get('window_sec') or DEFAULT_WINDOW_SEC
    calls = sorted(at for at in entry.get('calls') or [] if epoch(at) > moment - window)
    budget = (settings['api_budgets'] or {}).get(api)
    result = {'api': api, 'limit': entry.get('limit'), 'window_sec': window, 'reserve': 0, 'budget': budget,
              'spent': len(calls), 'next_at': None, 'why': None}
    if entry.get('limit') is not None:
        result['reserve'] = int(math.ceil(entry['limit'] * settings['api_reserve_percent'] / 100.0))
    blocked = entry.get('blocked')
    if blocked and blocked['until'] > now:
        result.update(usable=0, next_at=blocked['until'],
                      why='Qualys blocked %s with HTTP 409 (code %s) at %s, until %s' % (api, blocked['code'], blocked['seen_at'], blocked['until']))
        return result
    choices = []
    if entry.get('limit') is not None:
        if entry.get('remaining') is not None and entry.get('seen_at') and epoch(entry['seen_at']) > moment - window:
            left = entry['remaining'] - sum(1 for at in calls if at > entry['seen_at'])
        else:
            left = entry['limit'] - len(calls)
        choices.append((left - result['reserve'], '%s: %d of %d calls per %s left, %d kept for other tools'
                        % (api, max(left, 0), entry['limit'], _window_words(window), result['reserve'])))
    if budget is not None:
        choices.append((budget - len(calls), '%s: roamscan_api_budgets allows %d calls per %s, %d spent'
                        % (api, budget, _window_words(window), len(calls))))
    if not choices:
        result.update(usable=None, why=None)   # Qualys named no limit yet: the first call will tell
        return result
    usable, why = min(choices)
    result.update(usable=max(usable, 0), why=why)
    if usable < 1:
        # a rolling window frees one call when the oldest call in it leaves it
        result['next_at'] = iso_time(epoch(calls[0]) + window) if calls else iso_time(moment + window)
    return result


def spacing(allowed):
    """Seconds to leave between two calls of an API so that what roamscan may spend lasts the window
    (window / (limit - reserve), or / the operator's budget when smaller)."""
    calls = [count for count in (allowed['limit'] and allowed['limit'] - allowed['reserve'], allowed['budget']) if count]
    return allowed['window_sec'] / float(max(min(calls), 1)) if calls else 0


def earliest_done(state, item, settings):
    """When pending scan ``item`` ({ref, launched_at, targets}) can first be done: its launch + the shortest time
    learned for scans of its size (which includes the appliance's pickup); None while nothing is learned for that size."""
    del settings
    learned = state['durations'].get(size_class(item['targets']))
    if not learned:
        return None
    return iso_time(epoch(item['launched_at']) + min(learned))


def _last_call(state, api):
    calls = (state['apis'].get(api) or {}).get('calls') or []
    return max(calls) if calls else None


def _spaced(state, api, allowed, now, what):
    """Why ``api`` must wait for its spacing (None: it need not). Spacing under a minute is left to the schedule
    and the event batch window, which space cycles more than that already."""
    gap = spacing(allowed)
    if gap < MIN_SPACING_SEC:
        return None
    last = _last_call(state, api)
    if last and epoch(last) + gap > epoch(now):
        return 'budget: %s calls spaced %d min apart to last the %s (%s); next %s after %s' % (
            api, round(gap / 60.0), _window_words(allowed['window_sec']), allowed['why'], what, iso_time(epoch(last) + gap))
    return None


def poll_decision(state, pending, now, settings):
    """``(poll, why)``: whether this cycle's one status poll of the ``pending`` scans (``[{ref, launched_at,
    targets}]``) is worth its call, and why not."""
    if not pending:
        return False, None
    earliest = [earliest_done(state, item, settings) for item in pending]
    if all(moment is not None and moment > now for moment in earliest):
        return False, ('no pending scan can have finished yet (launch + appliance pickup + the time learned for '
                       'scans of its size): next poll after %s' % min(earliest))
    allowed = allowance(state, 'scan_list', now, settings)
    if allowed['usable'] == 0:
        return False, 'budget: %s; next poll after %s' % (allowed['why'], allowed['next_at'])
    spaced = _spaced(state, 'scan_list', allowed, now, 'poll')
    return (False, spaced) if spaced else (True, None)


def launch_decision(state, due, now, settings, batching=True):
    """Why this cycle does not launch the ``due`` candidates now (None: it does).

    A launch waits for budget (none left, or the spacing that makes it last the window) and, to share a
    launch's fixed calls, for a batch: until ``batch_min_targets`` are due, the first of them has waited
    ``batch_max_wait_minutes``, or one of them is likely to leave (``leave_risk`` >= ``batch_leave_risk``).
    Without ``batching`` (an earlier stage of this cycle already let the batch go) only the budget counts.
    """
    if not due:
        return None
    allowed = allowance(state, 'scan_launch', now, settings)
    if allowed['usable'] == 0:
        return 'budget: %s; next launch after %s' % (allowed['why'], allowed['next_at'])
    spaced = _spaced(state, 'scan_launch', allowed, now, 'launch')
    if spaced:
        return spaced
    if not batching or len(due) >= settings['batch_min_targets']:
        return None
    first = min(item['held_since'] for item in due)
    until = iso_time(epoch(first) + settings['batch_max_wait_minutes'] * 60)
    risk = max(item.get('leave_risk') or 0.0 for item in due)
    if now >= until or risk >= settings['batch_leave_risk']:
        return None
    return ('batching: %d of %d devices due, the first arrived %s; launching by %s at the latest, or at once when one '
            'is likely to leave (highest risk now %d%%)' % (len(due), settings['batch_min_targets'], first, until, round(risk * 100)))


def host_list_wanted(state, hosts, now, settings):
    """``(asked, why)``: the host_last_scanned ``hosts`` worth a host-list call (dates cached for
    ``host_list_cache_hours``), or none with the reason when the host list has no budget."""
    fresh = epoch(now) - settings['host_list_cache_hours'] * 3600
    asked = [host for host in hosts if not (state['host_list'].get(host.get('mac')) and epoch(state['host_list'][host['mac']]) > fresh)]
    cached = len(hosts) - len(asked)
    why = 'host list: %d date(s) cached from the last %d h' % (cached, settings['host_list_cache_hours']) if cached else None
    if asked:
        allowed = allowance(state, 'host_list', now, settings)
        if allowed['usable'] == 0:
            return [], 'budget: %s; scans of other schedules not looked up for %d device(s)' % (allowed['why'], len(asked))
    return asked, why


def _window_words(seconds):
    return {3600: 'hour', 86400: 'day'}.get(seconds, '%d s' % seconds)


# -- the cycle's view -----------------------------------------------------------------------------

def pending_scans(records):
    """``[{ref, launched_at, targets}]`` of the roamscan scans still pending in ``records``."""
    scans = {}
    for record in records.values():
        pending = record.get('pending')
        if pending and pending.get('scan_ref'):
            known = scans.setdefault(pending['scan_ref'], {'ref': pending['scan_ref'], 'launched_at': pending['launched_at'], 'targets': 0})
            known['launched_at'] = min(known['launched_at'], pending['launched_at'])
            known['targets'] += 1
    return [scans[ref] for ref in sorted(scans)]


def lead_seconds(state, settings, targets=1):
    """How long after a launch now the scan can be done (what a device must stay for): the appliance pickup
    plus the shortest learned time for its size, or LEAD_UNLEARNED_SEC while none is learned."""
    learned = state['durations'].get(size_class(targets))
    return max(min(learned), settings['scan_pickup_seconds']) if learned else settings['scan_pickup_seconds'] + LEAD_UNLEARNED_SEC


def held_plan(plan, due, why):
    """``plan`` (_decide.plan) with its launch deferred: every due candidate waits, in queue order, for ``why``."""
    dummy, waiting = take(due, 0, why)
    return dict(plan, title=None, targets=[], held=why, held_back=waiting[:HELD_BACK_SHOWN], held_back_count=len(waiting))


def usage_left(state, now, settings):
    """``{api: 'N of L calls per window left'}`` for the summary, for each API Qualys named a limit for."""
    shown = {}
    for api in sorted(state['apis']):
        allowed = allowance(state, api, now, settings)
        if allowed['limit'] is not None:
            shown[api] = '%s of %d calls per %s left to roamscan (%d kept for other tools)' % (
                allowed['usable'], allowed['limit'], _window_words(allowed['window_sec']), allowed['reserve'])
    return shown
