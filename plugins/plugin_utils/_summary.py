# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stages acknowledge and summary: which DHCP cursors may be acknowledged, and the one cycle summary.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import is_overdue, is_present

STAGES = ('collect', 'remember', 'confirm', 'decide', 'verify', 'launch', 'record', 'acknowledge', 'summary')


def counts(records, now, rescan_days):
    """Laptops known, present now, overdue (present or not) and with a pending scan."""
    present = overdue = pending = 0
    for record in records.values():
        present += is_present(record, now)
        overdue += is_overdue(record, now, rescan_days)
        pending += bool(record.get('pending'))
    return {'known': len(records), 'present': present, 'overdue': overdue, 'pending': pending}


def acknowledgements(reports, stored):
    """``{server: cursor}`` the DHCP servers may drop their spool up to.

    Only when what remember folded from them is stored (``stored``: written and read back, not a
    check-mode run): an acknowledged event is gone from the server, so acknowledging anything not
    stored would lose it.
    """
    if not stored:
        return {}
    return {name: report['cursor'] for name, report in sorted(reports.items())
            if isinstance(report, dict) and report.get('cursor') is not None}


def stage_of(task_name):
    """The stage a playbook task belongs to: the first word of its name (``Confirm | ...``)."""
    word = (task_name or '').split('|', 1)[0].strip().lower()
    return word if word in STAGES else None


def _ok(result):
    return isinstance(result, dict) and not result.get('failed') and not result.get('skipped')


def launched_refs(launched):
    """The scan references of the launch stage: one qualys_scan_launch result, or a loop of them (one per route group)."""
    if not _ok(launched):
        return []
    results = launched['results'] if isinstance(launched.get('results'), list) else [launched]
    return [ref for result in results if _ok(result) for ref in _get(result, 'scan_refs', default=[])]


def _get(result, *path, default=None):
    for key in path:
        if not isinstance(result, dict) or key not in result:
            return default
        result = result[key]
    return result


def cycle_summary(results, final_counts, fault=None, acknowledged=(), not_reported=None):
    """The one summary of a cycle, from the results its stages registered (``{stage: result}``).

    ``fault`` is ``{stage, task, msg}`` of the step that stopped the cycle (None when none did);
    the summary then says what was done before it and what was not done, and why.
    """
    remembered, confirmed, decided = results.get('remember'), results.get('confirm'), results.get('decide')
    verified, launched, recorded = results.get('verify'), results.get('launch'), results.get('record')
    summary = dict(final_counts or {'known': None, 'present': None, 'overdue': None, 'pending': None})
    summary.update({
        'credited': [item['mac'] for item in _get(confirmed, 'confirmed', 'credited', default=[])],
        'not_credited': _get(confirmed, 'confirmed', 'not_credited', default=[]),
        'abandoned': _get(confirmed, 'confirmed', 'abandoned', default=[]),
        'merged_from_host_list': _get(decided, 'merged', default=[]),
        'launched': launched_refs(launched),
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
    })
    return summary


def _not_done(fault, results):
    """``[{stage, reason}]`` of the stages a fault kept from running (empty when the cycle completed)."""
    if not fault:
        return []
    stopped = fault.get('stage')
    later = STAGES[STAGES.index(stopped):] if stopped in STAGES else STAGES[1:]
    reason = 'stopped at %s: %s' % (fault.get('task') or stopped or 'an unknown step', fault.get('msg') or 'failed')
    return [{'stage': stage, 'reason': reason} for stage in later
            if stage not in ('acknowledge', 'summary') and not _ok(results.get(stage))]
