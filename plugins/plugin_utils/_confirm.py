# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage confirm: pending scans against their status; credit the laptops a finished scan proves scanned.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_targets import includes
from ansible_collections.roamscan.qualys.plugins.module_utils._time import normalize_time, shift
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import held_throughout


def pending_scan_refs(records):
    """References of roamscan scans still pending, to ask qualys_scan_status about."""
    return sorted({r['pending']['scan_ref'] for r in records.values() if r.get('pending') and r['pending'].get('scan_ref')})


def scan_window(scan, pending, now):
    """(start, end) the laptop must have held its IP for its scan to count.

    Start is the earlier of our recorded launch time and Qualys' own. The end is ``now``, the moment
    the scan was seen finished and processed: Qualys' DURATION may leave out the time a scan waited
    for its appliance, so launch + duration is no safe bound on when the IP was probed.
    """
    start = pending['launched_at']
    if scan.get('launched'):
        try:
            start = min(start, normalize_time(scan['launched']))
        except ValueError:
            pass
    return start, max(now, start)


def confirm(records, scans, now, abandon_after_hours, devices=None):
    """Credit or release pending scans given ``qualys_scan_status`` results.

    A scan is credited to the identity whose holding of the IP it proves, and through the device's
    links (``devices``, _devices.Devices) to the device's other loaded identities (``last_scan_via``
    names the identity that proved it). Returns ``(changed, outcome)`` where outcome lists
    ``credited`` / ``not_credited`` / ``abandoned`` laptops (dicts with mac, ip, scan_ref, reason;
    a credit also ``also``: the linked identities credited with it).
    """
    by_ref = {}
    for scan in scans or []:
        if isinstance(scan, dict) and scan.get('ref'):
            by_ref[scan['ref']] = scan
    abandon_before = shift(now, hours=-abandon_after_hours)
    changed = set()
    outcome = {'credited': [], 'not_credited': [], 'abandoned': []}
    for mac, record in records.items():
        pending = record.get('pending')
        if not pending or not pending.get('scan_ref'):
            continue
        scan = by_ref.get(pending['scan_ref'])
        verdict = _verdict(record, pending, scan, now) if scan else None
        entry = {'mac': mac, 'ip': pending['ip'], 'scan_ref': pending['scan_ref']}
        if verdict is None:
            if pending['launched_at'] < abandon_before:
                entry['reason'] = 'scan still not finished and processed after %s hours' % abandon_after_hours
                outcome['abandoned'].append(entry)
                record['pending'] = None
                changed.add(mac)
            continue
        credited, reason, scanned_at = verdict
        entry['reason'] = reason
        if credited:
            also = []
            for key in devices.of(mac)['identities'] if devices is not None else [mac]:
                other = records.get(key)
                if other is not None and (other.get('last_scanned') is None or scanned_at > other['last_scanned']):
                    other.update(last_scanned=scanned_at, last_scan_ref=pending['scan_ref'])
                    changed.add(key)
                    if key != mac:
                        other['last_scan_via'] = mac
                        also.append(key)
            if also:
                entry['also'] = also
            outcome['credited'].append(entry)
        else:
            outcome['not_credited'].append(entry)
        record['pending'] = None
        changed.add(mac)
    return changed, outcome


def _verdict(record, pending, scan, now):
    """(credited, reason, scanned_at) once the scan is over, None while it is not."""
    state = scan.get('state')
    if not scan.get('done'):
        return None
    if state != 'Finished':
        return False, 'scan ended %s' % (state or 'without a state'), None
    if not scan.get('processed'):
        return None  # results not yet processed into host data: wait
    ip = pending['ip']
    if not includes(scan.get('scanned'), ip):
        reasons = [item.get('reason') for item in scan.get('not_scanned') or []
                   if isinstance(item, dict) and includes([item.get('ip')], ip)]
        return False, 'not scanned: %s' % (reasons[0] if reasons and reasons[0] else 'host not alive'), None
    start, end = scan_window(scan, pending, now)
    if not held_throughout(record, ip, start, end):
        return False, 'IP %s not proven leased to this MAC from %s to %s' % (ip, start, end), None
    return True, 'scanned alive while holding %s' % ip, start
