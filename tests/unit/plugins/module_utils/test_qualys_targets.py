# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import ipaddress

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils import _qualys_targets as t


def ips(n, first='10.1.0.1', step=1):
    start = int(ipaddress.IPv4Address(first))
    return [str(ipaddress.IPv4Address(start + i * step)) for i in range(n)]


def test_duplicates_and_overlaps_merge():
    merged = t.parse_targets(['10.0.0.5', '10.0.0.1-10.0.0.5', ' 10.0.0.3 ', '10.0.0.6', '10.0.0.9'])
    assert t.format_targets(merged) == ['10.0.0.1-10.0.0.6', '10.0.0.9']
    assert t.count(merged) == 7


def test_all_invalid_entries_reported_together():
    with pytest.raises(t.InvalidTarget) as caught:
        t.parse_targets(['10.0.0.1', '10.0.0.300', '10.0.0.9-10.0.0.1', 'laptop.example.com;id', 7])
    message = str(caught.value)
    assert '10.0.0.300' in message and 'backwards' in message and 'laptop.example.com' in message
    assert 'must be a string' in message


def test_many_invalid_entries_summarised():
    with pytest.raises(t.InvalidTarget, match=r'\(and 90 more\)$'):
        t.parse_targets(['10.0.0.%d' % (300 + i) for i in range(100)])


@pytest.mark.parametrize('total, per_scan, launches', [(500, None, 1), (500, 500, 1), (500, 200, 3), (1, 1, 1),
                                                       (2000, 999, 3)])
def test_split_into_fewest_launches(total, per_scan, launches):
    chunks = t.split(t.parse_targets(ips(total, step=3)), per_scan)     # scattered laptops, no ranges
    assert len(chunks) == launches
    assert sum(t.count(c) for c in chunks) == total
    assert all(t.count(c) <= (per_scan or total) for c in chunks)


def test_split_cuts_inside_a_range():
    chunks = t.split(t.parse_targets(['10.0.0.1-10.0.0.10']), 4)
    assert [t.format_targets(c) for c in chunks] == [['10.0.0.1-10.0.0.4'], ['10.0.0.5-10.0.0.8'],
                                                     ['10.0.0.9-10.0.0.10']]


def test_covers():
    outer = t.parse_targets(['10.0.0.1-10.0.0.10'])
    assert t.covers(outer, t.parse_targets(['10.0.0.2', '10.0.0.9-10.0.0.10']))
    assert not t.covers(outer, t.parse_targets(['10.0.0.10-10.0.0.11']))


def test_parse_target_text_tolerates_spaces_refuses_uuids():
    parsed = t.parse_target_text('10.0.0.1, 10.0.0.3-10.0.0.4\n')
    assert t.format_targets(parsed) == ['10.0.0.1', '10.0.0.3-10.0.0.4']
    assert t.parse_target_text('65188eb1-02b7-405e-861c-fb44c98a20d7') is None


def test_expand_refuses_huge_ranges():
    with pytest.raises(t.InvalidTarget):
        t.expand(t.parse_targets(['10.0.0.0-10.255.255.255']))
