# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report's numbers: device rows, who was seen and scanned, who is overdue and why, trends.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Everything the page and the exports show is computed here, once (``report()``); the page
(_report_page.py) and the exports (_report_export.py) only lay it out.
"""

from __future__ import annotations

import datetime
import functools

from ansible_collections.roamscan.qualys.plugins.module_utils._time import shift
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import is_present

# last-scan age buckets: (label, upper bound in days, exclusive; None: no bound)
AGE_BUCKETS = (('<7', 7), ('7–14', 14), ('14–30', 30), ('30–60', 60), ('60–90', 90),
               ('90–180', 180), ('180–365', 365), ('≥365', None))
NEVER = 'never'
# a scan needs the device on the network for a while (queue, appliance pick-up, the scan itself)
MIN_PRESENCE_HOURS = 1
REASONS = {
    'pending': 'waiting for a pending scan',
    'not_seen': 'not seen on the network in the window',
    'too_short': 'never present %d h in the window' % MIN_PRESENCE_HOURS,
    'not_found': 'present, not found alive by a scan yet',
}
DEVICE_FIELDS = ('mac', 'ip', 'hostname', 'dhcp_server', 'site', 'source', 'first_seen', 'last_seen', 'last_scanned', 'pending',
                 'present', 'presence_hours')
ROW_FIELDS = DEVICE_FIELDS + ('overdue', 'overdue_reason', 'overdue_days', 'due_in_days', 'scan_age_days')


@functools.lru_cache(maxsize=65536)
def _epoch(text):
    """Seconds of one of the collection's UTC times (fromisoformat: a report reads a few per device, strptime is slow)."""
    return datetime.datetime.fromisoformat(text).timestamp()


def _hours(start, end):
    return max(0.0, (_epoch(end) - _epoch(start)) / 3600)


def _presence_hours(record, since, now):
    """Hours the laptop held an address within the window (closed holdings and the open one)."""
    spans = [(item['from'], item['to']) for item in record.get('ip_history') or []]
    if record.get('lease_state') == 'active' and record.get('held_since'):
        spans.append((record['held_since'], min(now, max(record.get('lease_expires') or now, record.get('last_seen') or now))))
    return round(sum(_hours(max(start, since), end) for start, end in spans if end > since), 2)


def device_rows(records, now, since, sites):
    """One row per device: the report's only view of the store (``{mac: record}``; ``sites``: {dhcp_server: site}).

    Today one device is one laptop record, seen by DHCP; the row shape (DEVICE_FIELDS) is what the rest builds on.
    """
    rows = []
    for mac, record in records.items():
        server = record.get('dhcp_server')
        rows.append({
            'mac': mac, 'ip': record.get('ip'), 'hostname': record.get('hostname'), 'dhcp_server': server,
            'site': sites.get(server), 'source': 'dhcp', 'first_seen': record.get('first_seen'), 'last_seen': record.get('last_seen'),
            'last_scanned': record.get('last_scanned'), 'pending': bool(record.get('pending')),
            'present': is_present(record, now), 'presence_hours': _presence_hours(record, since, now),
        })
    return rows


def _judge(row, now, since, rescan_days):
    """The row's derived columns: overdue, why, since how long, days until due, age of its last scan.

    Due is _record.overdue_since's: the last scan plus ``rescan_days``, or first seen when never scanned.
    """
    now_epoch = _epoch(now)
    if row['last_scanned']:
        due = _epoch(row['last_scanned']) + rescan_days * 86400
    else:
        due = _epoch(row['first_seen']) if row['first_seen'] else None
    overdue = due is None or due <= now_epoch
    row['overdue'] = overdue
    row['overdue_days'] = round((now_epoch - due) / 86400, 1) if overdue and due is not None else None
    row['due_in_days'] = None if overdue else round((due - now_epoch) / 86400, 1)
    row['scan_age_days'] = round((now_epoch - _epoch(row['last_scanned'])) / 86400, 1) if row['last_scanned'] else None
    if not overdue:
        reason = None
    elif row['pending']:
        reason = 'pending'
    elif not row['last_seen'] or row['last_seen'] < since:
        reason = 'not_seen'
    elif row['presence_hours'] < MIN_PRESENCE_HOURS and not row['present']:
        reason = 'too_short'
    else:
        reason = 'not_found'
    row['overdue_reason'] = reason
    return row


def matches(row, filters, group_servers):
    """True when the row passes the report's filters (site, source, the DHCP servers of an inventory group)."""
    return ((filters.get('site') is None or row['site'] == filters['site'])
            and (filters.get('source') is None or row['source'] == filters['source'])
            and (group_servers is None or row['dhcp_server'] in group_servers))


def _age_bucket(row):
    if row['scan_age_days'] is None:
        return NEVER
    for label, bound in AGE_BUCKETS:
        if bound is None or row['scan_age_days'] < bound:
            return label
    return AGE_BUCKETS[-1][0]


def _breakdown(rows, field, since):
    groups = {}
    for row in rows:
        group = groups.setdefault(row[field] or '(none)', {'devices': 0, 'seen': 0, 'scanned': 0, 'overdue': 0})
        seen = (row['last_seen'] or '') >= since
        group['devices'] += 1
        group['seen'] += seen
        group['scanned'] += seen and (row['last_scanned'] or '') >= since
        group['overdue'] += row['overdue']
    return [dict(name=name, **values) for name, values in sorted(groups.items())]


def coverage(rows, since, window_days):
    """Share of devices seen in the window that were scanned within it."""
    seen = scanned = 0
    for row in rows:
        recent = (row['last_seen'] or '') >= since
        seen += recent
        scanned += recent and (row['last_scanned'] or '') >= since
    return {'window_days': window_days, 'since': since, 'seen': seen, 'scanned': scanned,
            'share': round(scanned / seen, 4) if seen else None}


def history_window(days, since):
    """The history's day entries within the report window, with each day's total API calls."""
    window = [dict(entry) for entry in days if entry['day'] >= since[:10]]
    for entry in window:
        entry['api_calls_total'] = sum(entry['api_calls'].values())
    return window


def report(records, history, now, settings, sites=None, group_servers=None):
    """Everything the page and the exports show, for ``records`` (``{mac: record}``) and ``history`` (day entries)."""
    window_days, rescan_days = settings['report_days'], settings['rescan_days']
    since = shift(now, days=-window_days)
    filters = {'site': settings['report_site'], 'source': settings['report_source'], 'group': settings['report_group']}
    rows = [_judge(row, now, since, rescan_days) for row in device_rows(records, now, since, sites or {})]
    rows = [row for row in rows if matches(row, filters, group_servers)]
    rows.sort(key=lambda row: row['mac'])
    overdue = sorted((row for row in rows if row['overdue']), key=lambda row: (-(row['overdue_days'] or 0), row['mac']))
    due_soon = sorted((row for row in rows if not row['overdue'] and row['due_in_days'] <= settings['due_soon_days']),
                      key=lambda row: (row['due_in_days'], row['mac']))
    ages = {label: 0 for label, dummy in AGE_BUCKETS}
    ages[NEVER] = 0
    reasons = {key: 0 for key in REASONS}
    for row in rows:
        ages[_age_bucket(row)] += 1
        if row['overdue_reason']:
            reasons[row['overdue_reason']] += 1
    window = history_window(history, since)
    return {
        'now': now, 'rescan_days': rescan_days, 'due_soon_days': settings['due_soon_days'], 'filters': filters, 'coverage': coverage(rows, since, window_days),
        'counts': {'known': len(rows), 'present': sum(row['present'] for row in rows), 'overdue': len(overdue),
                   'pending': sum(row['pending'] for row in rows)},
        'covered_share': round((len(rows) - len(overdue)) / len(rows), 4) if rows else None,
        'overdue_reasons': reasons, 'ages': [{'bucket': label, 'devices': count} for label, count in ages.items()],
        'breakdown': {field: _breakdown(rows, field, since) for field in ('dhcp_server', 'source', 'site')},
        'scans': {name: sum(entry[name] for entry in window)
                  for name in ('launched_scans', 'launched_targets', 'credited', 'not_credited', 'faults')},
        'dropped': _merged(entry['dropped'] for entry in window),
        'api': {'allowance_per_day': settings['api_allowance'], 'by_api': _merged(entry['api_calls'] for entry in window),
                'busiest_day': max((entry['api_calls_total'] for entry in window), default=0)},
        'history': window, 'devices': rows, 'overdue': overdue, 'due_soon': due_soon,
    }


def _merged(maps):
    total = {}
    for counts in maps:
        for key, value in counts.items():
            total[key] = total.get(key, 0) + value
    return dict(sorted(total.items(), key=lambda item: (-item[1], item[0])))
