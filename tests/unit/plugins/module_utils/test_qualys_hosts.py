# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import datetime

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_hosts import (
    InvalidHost,
    assess,
    host_list_scan_counts,
    host_list_params,
    normalize_hosts,
)

NOW = datetime.datetime(2026, 11, 28, 8, 0, 0, tzinfo=datetime.timezone.utc)


def record(ip, last, dns=None):
    return {'ip': ip, 'last_vuln_scan': last, 'dns': dns, 'netbios': None, 'tracking_method': 'IP'}


def test_qualys_scan_credited_only_from_held_since():
    hosts = normalize_hosts([
        {'ip': '10.0.0.1', 'mac': '2:77:0:0:a:1', 'held_since': '2026-11-28T07:00:00Z'},
        {'ip': '10.0.0.2', 'mac': '02:77:00:00:0a:02', 'held_since': '2026-11-28T07:30:00Z'},
    ])
    records = [record('10.0.0.1', '2026-11-28T07:10:00Z', 'lap1'), record('10.0.0.2', '2026-11-28T07:10:00Z')]
    first, second = assess(hosts, records, NOW, 30)
    assert (first['last_scanned'], first['source'], first['overdue']) == ('2026-11-28T07:10:00Z', 'qualys', False)
    assert first['mac'] == '02:77:00:00:0a:01' and first['qualys']['dns'] == 'lap1'
    # Another machine held 10.0.0.2 when Qualys scanned it: not credited, but shown.
    assert (second['last_scanned'], second['source'], second['overdue']) == (None, 'none', True)
    assert second['qualys']['last_vuln_scan'] == '2026-11-28T07:10:00Z'


def test_newer_of_local_and_qualys_wins_and_age_decides_overdue():
    hosts = normalize_hosts([{'ip': '10.0.0.3', 'last_scanned': '2026-11-20T00:00:00Z'},
                             {'ip': '10.0.0.4', 'last_scanned': '2026-11-20T00:00:00Z'}, '10.0.0.5'])
    results = assess(hosts, [record('10.0.0.3', '2026-10-01T00:00:00Z'), record('10.0.0.5', '2026-10-01T00:00:00Z')],
                     NOW, 30)
    assert [(r['source'], r['overdue']) for r in results] == [('local', False), ('local', False), ('qualys', True)]
    assert results[1]['qualys'] is None


def test_several_records_for_one_ip_pick_newest_creditable():
    hosts = normalize_hosts([{'ip': '10.0.0.6', 'held_since': '2026-11-01T00:00:00Z'}])
    (result,) = assess(hosts, [record('10.0.0.6', '2026-10-01T00:00:00Z'), record('10.0.0.6', '2026-11-10T00:00:00Z'),
                               record('10.0.0.6', None)], NOW, 30)
    assert result['last_scanned'] == '2026-11-10T00:00:00Z'


def test_invalid_hosts_reported_together():
    with pytest.raises(InvalidHost) as caught:
        normalize_hosts(['10.0.0.1', {'ip': '10.0.0.999'}, {'ip': '10.0.0.2', 'mac': 'zz'},
                         {'ip': '10.0.0.3', 'held_since': 'yesterday'}, {'ip': '10.0.0.4', 'color': 'red'}, 42,
                         {'ip': '10.0.0.5', 'last_scanned': '2026-11-28T07:00:00'}])
    message = str(caught.value)
    for index in (1, 2, 3, 4, 5, 6):
        assert 'hosts[%d]' % index in message
    assert 'hosts[0]' not in message


def test_host_list_params_merge_ips():
    assert host_list_params(['10.0.0.2', '10.0.0.1', '10.0.0.3', '10.0.0.9']) == {
        'ips': '10.0.0.1-10.0.0.3,10.0.0.9', 'details': 'Basic'}


def test_future_scan_dates_are_never_credited():
    """The rule the cycle applies to its records too (plugin_utils/_decide.credit_host_list)."""
    hosts = normalize_hosts([{'ip': '10.0.0.7', 'held_since': '2026-11-28T07:00:00Z'}])
    (result,) = assess(hosts, [record('10.0.0.7', '2026-11-28T09:00:00Z'), record('10.0.0.7', '2026-11-28T07:30:00Z')], NOW, 30)
    assert (result['last_scanned'], result['source']) == ('2026-11-28T07:30:00Z', 'qualys')


@pytest.mark.parametrize('scanned, since, until, expected', [
    ('2026-11-28T07:30:00Z', '2026-11-28T07:00:00Z', None, True),
    ('2026-11-28T06:59:59Z', '2026-11-28T07:00:00Z', None, False),                     # someone else held the IP
    ('2026-11-28T07:30:00Z', '2026-11-28T07:00:00Z', '2026-11-28T07:20:00Z', False),   # after the last evidence
    ('2026-11-28T08:00:01Z', None, None, False),                                       # from the future
    (None, None, None, False),
])
def test_one_rule_for_host_list_dates(scanned, since, until, expected):
    now = '2026-11-28T08:00:00Z'
    assert host_list_scan_counts(scanned, since, until, now) is expected
