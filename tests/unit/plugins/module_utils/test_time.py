# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils import _time


def test_normalize_time_accepts_offsets_and_fractions():
    assert _time.normalize_time('2026-11-28T07:03:14.532+00:00') == '2026-11-28T07:03:14Z'
    assert _time.normalize_time('2026-11-28T08:03:14+01:00') == '2026-11-28T07:03:14Z'
    with pytest.raises(ValueError):
        _time.normalize_time('2026-11-28T07:03:14')


def test_iso_time_and_parse_time_round_trip():
    assert _time.iso_time(1764313394) == '2025-11-28T07:03:14Z'
    assert _time.format_time(_time.parse_time('2025-11-28T07:03:14Z')) == '2025-11-28T07:03:14Z'


def test_shift_moves_by_timedelta_keywords():
    assert _time.shift('2026-11-28T07:00:00Z', days=30, hours=-1) == '2026-12-28T06:00:00Z'


@pytest.mark.parametrize('text', ['2026-11-28 07:00:00', '2026-11-28T07:00:00+00:00', None])
def test_parse_time_accepts_only_the_collection_format(text):
    with pytest.raises(ValueError):
        _time.parse_time(text)


def test_parse_time_accepts_exactly_what_the_format_accepts():
    import datetime
    import random
    rng = random.Random(3)
    samples = ['2026-02-29T00:00:00Z', '2024-02-29T23:59:59Z', '2026-13-01T00:00:00Z', '2026-01-01T24:00:00Z',
               '2026-01-01T00:60:00Z', '0000-01-01T00:00:00Z', '2026-1-01T00:00:00Z', '2026-01-01 00:00:00Z',
               '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00', '２０２６-01-01T00:00:00Z']
    fields = [(rng.randint(0, 9999), rng.randint(0, 13), rng.randint(0, 32), rng.randint(0, 24), rng.randint(0, 60), rng.randint(0, 61))
              for dummy in range(3000)]
    samples += ['%04d-%02d-%02dT%02d:%02d:%02dZ' % field for field in fields]
    for text in samples:
        try:
            expected = datetime.datetime.strptime(text, _time.TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            expected = None
        try:
            got = _time.parse_time(text)
        except ValueError:
            got = None
        assert got == expected and (got is None or got.tzinfo == datetime.timezone.utc), text
