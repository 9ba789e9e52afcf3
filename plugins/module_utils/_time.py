# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The collection's one time format and its helpers.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (modules on DHCP servers use it). Every stored or reported time is an
ISO-8601 UTC string with second precision and ``Z``; such strings compare as times.
"""

from __future__ import annotations

import datetime
import re
import time

TIME_FORMAT = '%Y-%m-%dT%H:%M:%SZ'
# the format as this collection writes it; strptime (the general case) costs ten times more
_CANONICAL = re.compile(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', re.ASCII)


def iso_time(epoch):
    """The collection's time string for a POSIX timestamp."""
    return time.strftime(TIME_FORMAT, time.gmtime(int(epoch)))


def format_time(moment):
    """The collection's time string for an aware datetime."""
    return moment.astimezone(datetime.timezone.utc).strftime(TIME_FORMAT)


def parse_time(text):
    """Aware datetime from the collection's time string; raises ValueError on anything else."""
    if not isinstance(text, str):
        raise ValueError('time must be a string, got %s' % type(text).__name__)
    if _CANONICAL.fullmatch(text):
        try:
            # checks the ranges strptime checks (month 13, 31 February, hour 24); Python < 3.11 refuses the Z
            return datetime.datetime.fromisoformat(text)
        except ValueError:
            pass
    return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)


def normalize_time(value):
    """Canonical time string (accepts ``+00:00`` offsets and fractions, drops the fraction)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith('Z'):
            text = text[:-1] + '+00:00'
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise ValueError('not an ISO-8601 time: %r' % value[:40]) from None
        if moment.tzinfo is None:
            raise ValueError('time without a time zone: %r' % value[:40])
        return format_time(moment.replace(microsecond=0))
    raise ValueError('time must be a string, got %s' % type(value).__name__)


def shift(text, **delta):
    """``text`` moved by a timedelta given as keyword arguments."""
    return format_time(parse_time(text) + datetime.timedelta(**delta))


def now():
    """The current time as the collection's time string."""
    return format_time(datetime.datetime.now(datetime.timezone.utc))
