# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report's numbers: device rows, who was seen and scanned, who is overdue and why, trends.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Everything the page and the exports show is computed here, once (``report()``); the page
(_report_page.py) and the exports (_report_export.py) only lay it out.
"""

from __future__ import annotations

import contextlib
import datetime
import gc

from ansible_collections.roamscan.qualys.plugins.module_utils._time import shift
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import DHCP_SOURCES, Devices, device_view, record_source
from ansible_collections.roamscan.qualys.plugins.plugin_utils._identity import identity_of
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
DEVICE_FIELDS = ('device', 'name', 'identities', 'sources', 'mac', 'ip', 'hostname', 'dhcp_server', 'site', 'source', 'first_seen',
                 'last_seen', 'last_scanned', 'last_scan_identity', 'pending', 'present', 'presence_hours')
ROW_FIELDS = DEVICE_FIELDS + ('overdue', 'overdue_reason', 'overdue_days', 'due_in_days', 'scan_age_days')


@contextlib.contextmanager
def collector_paused():
    """Python's cyclic garbage collector off while a report reads and lays out every record: that makes millions of
    small objects and no reference cycles, and each full collection would walk them all again (at 100000 devices, a
    third of the report's time)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _epoch(text):
    """Seconds of one of the collection's UTC times (fromisoformat: strptime is slow)."""
    return datetime.datetime.fromisoformat(text).timestamp()


def _hours(start, end):
    return max(0.0, (_epoch(end) - _epoch(start)) / 3600)


def _spans(record, since, now):
    """The record's holdings within the window, as ``(start, end)`` (closed ones and the open one)."""
    spans = [(max(item['from'], since), item['to']) for item in record.get('ip_history') or [] if item['to'] > since]
    if record.get('lease_state') == 'active' and record.get('held_since'):
        end = min(now, max(record.get('lease_expires') or now, record.get('last_seen') or now))
        if end > since:
            spans.append((max(record['held_since'], since), end))
    return spans


def _presence_hours(records, since, now):
    """Hours the device held an address within the window: the union of its identities' holdings (a DC logon at a
    DHCP address is the same time on the network, not more)."""
    spans = sorted(span for record in records for span in _spans(record, since, now))
    if len(spans) == 1:
        return round(_hours(*spans[0]), 2)
    total, start, end = 0.0, None, None
    for one, other in spans:
        if end is None or one > end:
            total += _hours(start, end) if end is not None else 0.0
            start, end = one, other
        else:
            end = max(end, other)
    total += _hours(start, end) if end is not None else 0.0
    return round(total, 2)


def source_family(kind):
    """The name a source kind is filtered and grouped by: ``dhcp`` for every DHCP server kind, else the kind."""
    return 'dhcp' if kind in DHCP_SOURCES else kind


def device_rows(records, now, since, sites, groups=(), rescan_days=30):
    """One row per device, unsorted: the report's only view of the store (``{identity key: record}``; ``sites``:
    {dhcp_server: site}; ``groups``: the operator's alias groups, _devices.read_alias_settings).

    ``identities`` are ``kind:value`` (the alias list's spelling), ``sources`` ``[{kind, host}]``; ``source`` is the
    presence source of the holding shown (``dhcp`` for a DHCP server), ``site`` its server's site. A row holds
    ROW_FIELDS, in that order (the JSON export writes rows as they are). A device of one identity (most of them) is
    read straight from its record (:func:`lone_row`), the others through _devices.device_view: the same row.
    """
    rows = []
    now_epoch = _epoch(now)
    for device in Devices(records, groups).all().values():
        keys = device['identities']
        if len(keys) == 1 and keys[0] in records:
            rows.append(_judge(lone_row(device, records[keys[0]], now, since, sites), now_epoch, since, rescan_days))
        elif any(key in records for key in keys):
            rows.append(_judge(view_row(device_view(device, records, now, rescan_days), records, now, since, sites), now_epoch, since,
                               rescan_days))
    return rows


def view_row(view, records, now, since, sites):
    """The device part of a row (DEVICE_FIELDS), from its _devices.device_view."""
    members = [records[item['key']] for item in view['identities'] if item['key'] in records]
    shown = next((item['source'] for item in view['identities'] if item['key'] == view['holding_identity']), None)
    server = view['dhcp_server']
    return {
        'device': view['device'], 'name': view['name'],
        'identities': ['%s:%s' % (item['kind'], item['value']) for item in view['identities']],
        'sources': [{'kind': item['kind'], 'host': item['host']} for item in view['sources']],
        'mac': view['mac'], 'ip': view['ip'], 'hostname': view['hostname'], 'dhcp_server': server, 'site': sites.get(server),
        'source': source_family(shown['kind']) if shown else None, 'first_seen': view['first_seen'],
        'last_seen': view['last_seen'], 'last_scanned': view['last_scanned'], 'last_scan_identity': view['last_scan_identity'],
        'pending': bool(view['pending']), 'present': view['present'], 'presence_hours': _presence_hours(members, since, now),
    }


def lone_row(device, record, now, since, sites):
    """:func:`view_row` of a device of one identity (``device``: _devices.Devices.of()), from its ``record`` alone:
    that identity holds the address shown and made every scan."""
    key = device['identities'][0]
    identity = identity_of(key)
    source = record_source(record)
    server = source['host'] if source['kind'] in DHCP_SOURCES else None
    last_scanned = record.get('last_scanned') or None
    return {
        'device': device['id'], 'name': device['name'], 'identities': ['%s:%s' % (identity['kind'], identity['value'])],
        'sources': [{'kind': source['kind'], 'host': source['host']}] if source['kind'] else [],
        'mac': identity['value'] if identity['kind'] == 'mac' else None, 'ip': record.get('ip'),
        'hostname': record.get('hostname') or None, 'dhcp_server': server, 'site': sites.get(server),
        'source': source_family(source['kind']), 'first_seen': record.get('first_seen') or None,
        'last_seen': record.get('last_seen') or None, 'last_scanned': last_scanned,
        'last_scan_identity': key if last_scanned else None, 'pending': bool(record.get('pending')),
        'present': is_present(record, now), 'presence_hours': _presence_hours([record], since, now),
    }


def _judge(row, now_epoch, since, rescan_days):
    """The row's derived columns (in ROW_FIELDS' order): overdue, why, since how long, days until due, age of its
    last scan; ``now_epoch``: the report's time in seconds.

    Due is _record.overdue_since's: the last scan plus ``rescan_days``, or first seen when never scanned.
    """
    scanned = _epoch(row['last_scanned']) if row['last_scanned'] else None
    if scanned is not None:
        due = scanned + rescan_days * 86400
    else:
        due = _epoch(row['first_seen']) if row['first_seen'] else None
    overdue = due is None or due <= now_epoch
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
    row['overdue'] = overdue
    row['overdue_reason'] = reason
    row['overdue_days'] = round((now_epoch - due) / 86400, 1) if overdue and due is not None else None
    row['due_in_days'] = None if overdue else round((due - now_epoch) / 86400, 1)
    row['scan_age_days'] = round((now_epoch - scanned) / 86400, 1) if scanned is not None else None
    return row


def matches(row, filters, group_servers):
    """True when the row passes the report's filters: site, a presence source the device was seen by (``dhcp`` for any
    DHCP server), a source host in an inventory group."""
    return ((filters.get('site') is None or row['site'] == filters['site'])
            and (filters.get('source') is None or filters['source'] in {source_family(item['kind']) for item in row['sources']})
            and (group_servers is None or any(item['host'] in group_servers for item in row['sources'])))


def _age_bucket(row):
    if row['scan_age_days'] is None:
        return NEVER
    for label, bound in AGE_BUCKETS:
        if bound is None or row['scan_age_days'] < bound:
            return label
    return AGE_BUCKETS[-1][0]


def _breakdown(rows, names_of, since):
    """Devices, seen, scanned and overdue per group name; ``names_of(row)``: the groups a device is in (a device seen
    by two sources counts in both)."""
    groups = {}
    for row in rows:
        seen = (row['last_seen'] or '') >= since
        scanned = seen and (row['last_scanned'] or '') >= since
        for name in names_of(row) or ['(none)']:
            counts = groups.get(name or '(none)')
            if counts is None:
                counts = groups[name or '(none)'] = [0, 0, 0, 0]
            counts[0] += 1
            counts[1] += seen
            counts[2] += scanned
            counts[3] += row['overdue']
    return [{'name': name, 'devices': devices, 'seen': seen, 'scanned': scanned, 'overdue': overdue}
            for name, (devices, seen, scanned, overdue) in sorted(groups.items())]


BREAKDOWNS = {
    'dhcp_server': lambda row: [row['dhcp_server']],
    'source': lambda row: sorted({source_family(item['kind']) for item in row['sources']}),
    'site': lambda row: [row['site']],
}


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


def report(records, history, now, settings, sites=None, group_servers=None, groups=()):
    """Everything the page and the exports show, for ``records`` (``{identity key: record}``), ``history`` (day entries)
    and the operator's alias ``groups``.

    ``covered_share`` (devices not overdue) is the headline and the history's figure: each cycle's summary counts
    devices the same way (_summary.counts).
    """
    window_days, rescan_days = settings['report_days'], settings['rescan_days']
    since = shift(now, days=-window_days)
    filters = {'site': settings['report_site'], 'source': settings['report_source'], 'group': settings['report_group']}
    rows = [row for row in device_rows(records, now, since, sites or {}, groups, rescan_days) if matches(row, filters, group_servers)]
    rows.sort(key=lambda row: (row['name'], row['device']))
    overdue = sorted((row for row in rows if row['overdue']), key=lambda row: (-(row['overdue_days'] or 0), row['name']))
    due_soon = sorted((row for row in rows if not row['overdue'] and row['due_in_days'] <= settings['due_soon_days']),
                      key=lambda row: (row['due_in_days'], row['name']))
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
        'breakdown': {field: _breakdown(rows, names_of, since) for field, names_of in BREAKDOWNS.items()},
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
