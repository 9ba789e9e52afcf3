# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stages acknowledge and summary: which spool cursors may be acknowledged, and the one cycle summary.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import Devices, scan_state
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import is_present

STAGES = ('collect', 'remember', 'confirm', 'decide', 'verify', 'launch', 'record', 'acknowledge', 'summary')


def counts(records, now, rescan_days, groups=()):
    """Devices known, present now, overdue (present or not) and with a pending scan, of ``records`` (``{identity key:
    record}``, digests will do) under the alias ``groups``: the coverage report's figures (_coverage.report)."""
    known = present = overdue = pending = 0
    if groups or any(record.get('links') for record in records.values()):
        devices = ([records[key] for key in keys if key in records] for keys in Devices(records, groups).members().values())
    else:   # nothing links: every record is a device of its own
        devices = ([record] for record in records.values())
    for members in devices:
        if not members:
            continue
        known += 1
        present += any(is_present(record, now) for record in members)
        due = scan_state(members, rescan_days)[2]
        overdue += due is None or due <= now
        pending += any(record.get('pending') for record in members)
    return {'known': known, 'present': present, 'overdue': overdue, 'pending': pending}


def acknowledgements(reports, stored):
    """``[{host, source, spool_dir, cursor}]``: each spool of the ``[(host, presence_events result)]`` and the cursor
    its host may drop it up to.

    Only when what remember folded from them is stored (``stored``: written and read back, not a
    check-mode run): an acknowledged event is gone from the server, so acknowledging anything not
    stored would lose it.
    """
    if not stored:
        return []
    return [{'host': host, 'source': report.get('source'), 'spool_dir': report.get('spool_dir'), 'cursor': report['cursor']}
            for host, report in sorted(reports, key=lambda item: item[0])
            if isinstance(report, dict) and report.get('cursor') is not None]


def stage_of(task_name):
    """The stage a playbook task belongs to: the first word of its name (``Confirm | ...``)."""
    word = (task_name or '').split('|', 1)[0].strip().lower()
    return word if word in STAGES else None


def _ok(result):
    return isinstance(result, dict) and not result.get('failed') and not result.get('skipped')


def _get(result, *path, default=None):
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return default
        result = result[key]
    return result


def cycle_summary(results, final_counts, fault=None, acknowledged=(), not_reported=None, took_over=None):
    """The one summary of a cycle, from the results its stages registered (``{stage: result}``).

    ``fault`` is ``{stage, task, msg}`` of the step that stopped the cycle (None when none did);
    the summary then says what was done before it and what was not done, and why. ``took_over``
    is the holder of the cycle lease this run took over (cycle_check), when its cycle never ended.
    """
    remembered, confirmed, decided = results.get('remember'), results.get('confirm'), results.get('decide')
    verified, launched, recorded = results.get('verify'), results.get('launch'), results.get('record')
    summary = dict(final_counts or {'known': None, 'present': None, 'overdue': None, 'pending': None})
    summary.update({
        'credited': [item['identity'] for item in _get(confirmed, 'confirmed', 'credited', default=[])],
        'credited_from_log': [item['identity'] for item in _get(confirmed, 'confirmed', 'credited', default=[])
                              if item.get('authority') == 'log'],
        'not_credited': _get(confirmed, 'confirmed', 'not_credited', default=[]),
        'abandoned': _get(confirmed, 'confirmed', 'abandoned', default=[]),
        'merged_from_host_list': _get(decided, 'merged', default=[]),
        'launched': list(_get(launched, 'scan_refs', default=[])) if _ok(launched) else [],
        'launched_targets': [item['ip'] for item in _get(recorded, 'launch', 'recorded', default=[])],
        'dropped_at_launch': _get(verified, 'launch', 'dropped', default=[]),
        'not_probed': _get(verified, 'launch', 'not_probed', default=[]),
        'liveness_probe': _get(verified, 'liveness_probe'),
        'held': _get(decided, 'plan', 'held'),
        'held_back': _get(decided, 'plan', 'held_back', default=[]),
        'held_back_count': _get(decided, 'plan', 'held_back_count', default=0),
        'corrupt_cache_entries': _get(remembered, 'corrupt', default=[]),
        'unusable_dhcp_entries': len(_get(remembered, 'unusable', default=[])),
        'corrupt_spool_lines': _get(remembered, 'corrupt_spool_lines', default={}),
        'dhcp_servers_reported': _get(remembered, 'servers', default=[]),
        'dhcp_servers_not_reported': dict(not_reported or {}),
        'acknowledged': sorted(acknowledged),
        'fault': fault,
        'not_done': _not_done(fault, results),
        'resumed': _resumed(took_over, _get(decided, 'plan')),
    })
    return summary


def _resumed(took_over, plan):
    """What this cycle took up from one that never ended (killed, or its controller stopped), or None:
    ``{after: {host, pid, since, msg}, launch: {title, intended_at}}``, either part None."""
    after = launch = None
    if isinstance(took_over, dict):
        after = {'host': took_over.get('host'), 'pid': took_over.get('pid'), 'since': _iso(took_over.get('since'))}
        after['msg'] = 'resumed after the cycle on %s (pid %s) since %s, which did not finish' % (
            after['host'], after['pid'], after['since'])
    if isinstance(plan, dict) and plan.get('resumed'):
        launch = {'title': plan.get('title'), 'intended_at': plan.get('intended_at')}
    return {'after': after, 'launch': launch} if after or launch else None


def _iso(epoch):
    return iso_time(epoch) if isinstance(epoch, (int, float)) else None


def failure_of(summary):
    """Why the cycle failed, in one sentence naming the stage's fault or every DHCP server that did not report; None if it did not."""
    parts = []
    if summary['fault']:
        parts.append(summary['fault']['msg'] or 'the %s stage failed' % summary['fault']['stage'])
    silent = summary['dhcp_servers_not_reported']
    if silent:
        reasons = '; '.join('%s (%s)' % (server, silent[server]) for server in sorted(silent))
        parts.append('DHCP server%s not read: %s' % ('s' if len(silent) > 1 else '', reasons))
    return '; '.join(parts) or None


def _not_done(fault, results):
    """``[{stage, reason}]`` of the stages a fault kept from running (empty when the cycle completed)."""
    if not fault:
        return []
    stopped = fault.get('stage')
    later = STAGES[STAGES.index(stopped):] if stopped in STAGES else STAGES[1:]
    reason = 'stopped at %s: %s' % (fault.get('task') or stopped or 'an unknown step', fault.get('msg') or 'failed')
    return [{'stage': stage, 'reason': reason} for stage in later
            if stage not in ('acknowledge', 'summary') and not _ok(results.get(stage))]
