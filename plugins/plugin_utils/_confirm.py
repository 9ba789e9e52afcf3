# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Stage confirm: pending scans against their status; credit the laptops a finished scan proves scanned.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_targets import includes
from ansible_collections.roamscan.qualys.plugins.module_utils._time import normalize_time, shift
from ansible_collections.roamscan.qualys.plugins.plugin_utils._decide import target_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import authority, held_throughout, open_holding


def pending_scan_refs(records):
    """References of roamscan scans still pending, to ask qualys_scan_status about."""
    return sorted({r['pending']['scan_ref'] for r in records.values() if r.get('pending') and r['pending'].get('scan_ref')})


def scan_window(scan, pending, now):
    """(start, end) the identity must have held its IP for its scan to count.

    Start is the earlier of our recorded launch time and Qualys' own. The end is the moment the scan
    was first seen finished and processed (``pending.done_at``, else ``now``): Qualys' DURATION may
    leave out the time a scan waited for its appliance, so launch + duration is no safe bound on
    when the IP was probed.
    """
    start = pending['launched_at']
    if scan.get('launched'):
        try:
            start = min(start, normalize_time(scan['launched']))
        except ValueError:
            pass
    return start, max(pending.get('done_at') or now, start)


def confirm(records, scans, now, abandon_after_hours, devices=None):
    """Credit or release pending scans given ``qualys_scan_status`` results.

    A scan is credited to the identity whose holding of the IP it proves, and through the device's
    links (``devices``, _devices.Devices) to the device's other loaded identities (``last_scan_via``
    names the identity that proved it; ``last_scan_authority`` is ``log`` when that holding came
    from a log-only source). A finished scan whose holding is still open but proven only up to a
    moment before the scan was seen finished (a VPN session: its end is known only once it ends)
    waits for the next cycle's evidence, with that moment kept as ``pending.done_at``. Returns
    ``(changed, outcome)`` where outcome lists ``credited`` / ``not_credited`` / ``abandoned``
    identities (dicts with identity, mac, ip, scan_ref, reason; a credit also ``also``: the linked
    identities credited with it; ``authority`` ``log`` for a log-based one).
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
        entry = target_of(mac, pending['ip'], scan_ref=pending['scan_ref'])
        if verdict == WAIT_FOR_EVIDENCE:
            if not pending.get('done_at'):
                pending['done_at'] = now
                changed.add(mac)
            verdict = None
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
                    if authority(record) == 'log':
                        other['last_scan_authority'] = 'log'
                    else:
                        other.pop('last_scan_authority', None)
                    changed.add(key)
                    if key != mac:
                        other['last_scan_via'] = mac
                        also.append(key)
            if also:
                entry['also'] = also
            if authority(record) == 'log':
                entry['authority'] = 'log'
            outcome['credited'].append(entry)
        else:
            outcome['not_credited'].append(entry)
        record['pending'] = None
        changed.add(mac)
    return changed, outcome


# a verdict: the scan is over, the holding is still open, and its evidence does not yet reach the scan's end
WAIT_FOR_EVIDENCE = 'wait'


def _verdict(record, pending, scan, now):
    """(credited, reason, scanned_at) once the scan is over, None while it is not, WAIT_FOR_EVIDENCE."""
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
        holding = open_holding(record, ip)
        if holding is not None and holding[0] <= start and record.get('lease_expires') is None:
            return WAIT_FOR_EVIDENCE
        return False, 'IP %s not proven held by this identity from %s to %s' % (ip, start, end), None
    return True, 'scanned alive while holding %s' % ip, start
