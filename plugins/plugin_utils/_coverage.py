# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report's numbers: who was seen, who was scanned, who is overdue.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._time import shift
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import is_overdue, is_present


def coverage(records, now, window_days, rescan_days):
    """Share of laptops seen in the last ``window_days`` that were scanned within ``window_days``, and the overdue list.

    The overdue list holds every overdue laptop (seen recently or not), most recently seen first.
    """
    since = shift(now, days=-window_days)
    seen = scanned = 0
    overdue = []
    for mac, record in records.items():
        recent = (record.get('last_seen') or '') >= since
        seen += recent
        scanned += recent and (record.get('last_scanned') or '') >= since
        if is_overdue(record, now, rescan_days):
            overdue.append({'mac': mac, 'ip': record.get('ip'), 'hostname': record.get('hostname'),
                            'last_seen': record.get('last_seen'), 'last_scanned': record.get('last_scanned'),
                            'present': is_present(record, now), 'pending': bool(record.get('pending'))})
    overdue.sort(key=lambda item: (item['last_seen'] or '', item['mac']), reverse=True)
    return {'window_days': window_days, 'since': since, 'seen': seen, 'scanned': scanned,
            'share': round(scanned / seen, 4) if seen else None, 'overdue': overdue}
