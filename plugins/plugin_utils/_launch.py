# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stages verify and record: the launch intent before qualys_scan_launch, the scan references after it.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_targets import includes
from ansible_collections.roamscan.qualys.plugins.plugin_utils._decide import target_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import authority, is_present

# reason of a target dropped because its IP is no longer held by its identity in the source's live table
NOT_LEASED = 'not_leased'


def record_intent(records, title, targets, holders, now, credit_log=False):
    """Mark the re-verified targets pending (no scan ref yet) before the launch call.

    ``holders`` is ``{ip: {identity key, ...}}`` from the live tables read just now
    (_remember.lease_holders). Returns ``(changed, launch, dropped)``; ``launch`` are the targets
    still held by the same identity. A holding from a log-only source has no table to re-read: it
    is kept only with ``credit_log`` (roamscan_credit_log_presence). Earlier intents with this
    title whose identity is no longer there are cleared.
    """
    changed, launch, dropped = set(), [], []
    for target in targets:
        mac, ip = target['identity'], target['ip']
        record = records.get(mac)
        if record is None:
            dropped.append(target_of(mac, ip, reason='no record'))
            continue
        held = mac in holders.get(ip, ()) or (credit_log and authority(record) == 'log')
        if not held or not is_present(record, now) or record['ip'] != ip:
            dropped.append(target_of(mac, ip, reason=NOT_LEASED))
            if record.get('pending') and not record['pending'].get('scan_ref'):
                record['pending'] = None
                changed.add(mac)
            continue
        pending = record.get('pending')
        if not (pending and pending.get('title') == title and not pending.get('scan_ref')):
            record['pending'] = {'scan_ref': None, 'ip': ip, 'launched_at': now, 'title': title}
            changed.add(mac)
        launch.append(target_of(mac, ip))
    return changed, launch, dropped


def record_launch(records, title, scans):
    """Turn intents of ``title`` into pending scans, by the targets each returned scan carries.

    Returns ``(changed, recorded, missing)``; intents whose IP no scan carries are cleared.
    """
    changed, recorded, missing = set(), [], []
    for mac, record in records.items():
        pending = record.get('pending')
        if not pending or pending.get('scan_ref') or pending.get('title') != title:
            continue
        ref = next((scan.get('ref') for scan in scans or []
                    if scan.get('ref') and includes(scan.get('targets'), pending['ip'])), None)
        if ref:
            pending['scan_ref'] = ref
            recorded.append(target_of(mac, pending['ip'], scan_ref=ref))
        else:
            record['pending'] = None
            missing.append(target_of(mac, pending['ip']))
        changed.add(mac)
    return changed, recorded, missing
