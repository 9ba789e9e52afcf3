# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""When was each laptop last really scanned: local records, credited Qualys host-list entries.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

import datetime

from ansible_collections.roamscan.qualys.plugins.module_utils import _qualys_targets as targets_lib
from ansible_collections.roamscan.qualys.plugins.module_utils import _time as time_lib
from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import (
    InvalidAddress,
    normalize_ip,
    normalize_mac,
)

HOST_FIELDS = frozenset(('ip', 'mac', 'last_scanned', 'held_since'))


class InvalidHost(ValueError):
    """A hosts entry that cannot be used."""


def parse_time(value, what):
    """ISO-8601 (UTC 'Z' or an offset) -> aware datetime; None stays None."""
    if value is None or value == '':
        return None
    try:
        return time_lib.parse_time(time_lib.normalize_time(value))
    except ValueError as exc:
        raise InvalidHost('%s: %s' % (what, exc)) from None


def host_list_scan_counts(scanned_at, held_since, held_until, now):
    """The one rule for crediting a Qualys host-list scan date to a laptop.

    A host-list record describes whoever held the IP (IP tracking), so its LAST_VULN_SCAN_DATETIME
    counts only inside this MAC's holding of that IP - not before ``held_since``, not after
    ``held_until`` (the last evidence of the holding; None when the caller has none) - and never
    from the future. Times are all aware datetimes or all the collection's time strings.
    """
    return (scanned_at is not None and scanned_at <= now
            and (held_since is None or scanned_at >= held_since)
            and (held_until is None or scanned_at <= held_until))


def normalize_hosts(entries):
    """IP strings or {ip, mac, last_scanned, held_since} dicts -> validated dicts; all errors at once."""
    hosts, errors = [], []
    for index, entry in enumerate(entries):
        try:
            record = {'ip': entry} if isinstance(entry, str) else entry
            if not isinstance(record, dict):
                raise InvalidHost('must be an IP string or a dict')
            unknown = sorted(set(record) - HOST_FIELDS)
            if unknown:
                raise InvalidHost('unknown keys %s' % ', '.join(unknown))
            if record.get('ip') is None:
                raise InvalidHost('has no ip')
            hosts.append({
                'ip': normalize_ip(record['ip']),
                'mac': normalize_mac(record['mac']) if record.get('mac') else None,
                'last_scanned': parse_time(record.get('last_scanned'), 'last_scanned'),
                'held_since': parse_time(record.get('held_since'), 'held_since'),
            })
        except (InvalidHost, InvalidAddress) as exc:
            errors.append('hosts[%d]: %s' % (index, exc))
    if errors:
        raise InvalidHost('; '.join(errors))
    return hosts


def host_list_params(ips):
    """One host-list request for all IPs (POST body, merged ranges), with scan dates."""
    intervals = targets_lib.parse_targets(ips)
    return {'ips': ','.join(targets_lib.format_targets(intervals)), 'details': 'Basic'}


def _records_by_ip(records):
    found = {}
    for record in records:
        if record.get('ip'):
            found.setdefault(record['ip'], []).append(record)
    return found


def _qualys_view(record):
    if record is None:
        return None
    return {'dns': record.get('dns'), 'netbios': record.get('netbios'),
            'tracking_method': record.get('tracking_method'), 'last_vuln_scan': record.get('last_vuln_scan')}


def assess(hosts, qualys_records, now, max_age_days):
    """Per host: the newest creditable scan time, its source and whether it is overdue.

    A Qualys record's LAST_VULN_SCAN_DATETIME is credited by host_list_scan_counts, from held_since,
    the moment this MAC began holding the IP.
    """
    by_ip = _records_by_ip(qualys_records or [])
    cutoff = now - datetime.timedelta(days=max_age_days)
    results = []
    for host in hosts:
        records = sorted(by_ip.get(host['ip'], []), key=lambda r: r.get('last_vuln_scan') or '', reverse=True)
        shown, credited = (records[0] if records else None), None
        for record in records:
            scanned_at = parse_time(record.get('last_vuln_scan'), 'LAST_VULN_SCAN_DATETIME')
            if host_list_scan_counts(scanned_at, host['held_since'], None, now):
                shown, credited = record, scanned_at
                break
        last_scanned, source = host['last_scanned'], 'local' if host['last_scanned'] else 'none'
        if credited and (last_scanned is None or credited > last_scanned):
            last_scanned, source = credited, 'qualys'
        results.append({
            'ip': host['ip'], 'mac': host['mac'], 'source': source,
            'last_scanned': time_lib.format_time(last_scanned) if last_scanned else None,
            'overdue': last_scanned is None or last_scanned < cutoff, 'qualys': _qualys_view(shown),
        })
    return results
