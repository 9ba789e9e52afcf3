# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scan targets: IPv4 addresses and ``a-b`` ranges, kept as merged integer intervals.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Intervals make duplicates and overlaps vanish, let a 500-IP target list travel as a short ``ip=``
value, and allow splitting by address count without expanding huge ranges.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidIp, normalize_ip


MAX_REPORTED_ERRORS = 10


class InvalidTarget(ValueError):
    """A target entry that is neither an IPv4 host address nor an ``a-b`` range of them."""


def _to_int(text):
    return int(ipaddress.IPv4Address(normalize_ip(text)))


def _parse_entry(entry):
    if not isinstance(entry, str):
        raise InvalidTarget('target must be a string, got %s' % type(entry).__name__)
    text = entry.strip()
    try:
        if '-' in text:
            first, last = text.split('-', 1)
            start, end = _to_int(first), _to_int(last)
        else:
            start = end = _to_int(text)
    except InvalidIp as exc:
        raise InvalidTarget('invalid target %r: %s' % (entry[:80], exc)) from None
    if start > end:
        raise InvalidTarget('invalid target %r: range runs backwards' % entry[:80])
    return start, end


def merge(intervals):
    """Sorted, merged list of (start, end) intervals; adjacent ones join."""
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def parse_targets(entries):
    """Validate every entry first (all errors reported together), then merge."""
    intervals, errors = [], []
    for entry in entries:
        try:
            intervals.append(_parse_entry(entry))
        except InvalidTarget as exc:
            errors.append(str(exc))
    if errors:
        more = ' (and %d more)' % (len(errors) - MAX_REPORTED_ERRORS) if len(errors) > MAX_REPORTED_ERRORS else ''
        raise InvalidTarget('; '.join(errors[:MAX_REPORTED_ERRORS]) + more)
    return merge(intervals)


def parse_target_text(text):
    """Lenient parse of a Qualys TARGET / result list ("10.0.0.1-10.0.0.3, 10.0.0.9").

    Returns None when the text holds anything that is not an IP or range (asset UUIDs, FQDNs).
    """
    entries = [part for part in (text or '').replace('\n', ',').split(',') if part.strip()]
    try:
        return parse_targets(entries)
    except InvalidTarget:
        return None


def count(intervals):
    return sum(end - start + 1 for start, end in intervals)


def format_interval(start, end):
    first = str(ipaddress.IPv4Address(start))
    return first if start == end else '%s-%s' % (first, ipaddress.IPv4Address(end))


def format_targets(intervals):
    """List of strings, one per interval (single IPs stay plain)."""
    return [format_interval(start, end) for start, end in intervals]


def split(intervals, max_per_chunk):
    """Split into the fewest chunks of at most max_per_chunk addresses (None or 0: one chunk)."""
    if not intervals:
        return []
    if not max_per_chunk:
        return [list(intervals)]
    chunks, current, room = [], [], max_per_chunk
    for start, end in intervals:
        while start <= end:
            take = min(room, end - start + 1)
            current.append((start, start + take - 1))
            start += take
            room -= take
            if room == 0:
                chunks.append(current)
                current, room = [], max_per_chunk
    if current:
        chunks.append(current)
    return chunks


def covers(outer, inner):
    """True when every address of interval list inner lies inside interval list outer."""
    outer = merge(outer)
    for start, end in inner:
        if not any(o_start <= start and end <= o_end for o_start, o_end in outer):
            return False
    return True


def expand(intervals, limit=65536):
    """Every address as a string; refuses to expand more than limit addresses."""
    total = count(intervals)
    if total > limit:
        raise InvalidTarget('refusing to expand %d addresses (limit %d)' % (total, limit))
    return [str(ipaddress.IPv4Address(value)) for start, end in intervals for value in range(start, end + 1)]


def includes(entries, ip):
    """True when IPv4 address ``ip`` is one of ``entries`` (addresses or ``a-b`` ranges, as Qualys reports them).

    Entries that are no target (Qualys may report a note instead) are passed over, not an error.
    """
    value = _to_int(ip)
    for entry in entries or []:
        try:
            start, end = _parse_entry(str(entry))
        except InvalidTarget:
            continue
        if start <= value <= end:
            return True
    return False
