# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VPN concentrator syslog lines from published samples -> session events."""
from __future__ import annotations

import os

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._logon_records import Ignored, SkippedLine
from ansible_collections.roamscan.qualys.plugins.module_utils._vpn_log_lines import line_time, parse_vpn_line

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'vpn_logs')
NOW = 1764583000  # 2025-12-01


def outcomes(name):
    result = []
    with open(os.path.join(FIXTURES, name)) as handle:
        for line in handle:
            try:
                event = parse_vpn_line(line.rstrip('\n'), NOW)
                result.append((event.kind, event.user, event.ip))
            except (Ignored, SkippedLine) as exc:
                result.append((type(exc).__name__, exc.reason))
    return result


def test_cisco_asa():
    assert outcomes('cisco_asa.log') == [
        ('Ignored', 'no_tunnel_ip'),
        ('connect', 'tomerl-test-CA57DA549C121B25A5A5038A58C81E6B7B1C954F-iPhone', '10.82.239.225'),
        ('connect', 'harry0houdini0', '10.10.20.1'),
        ('connect', 'alice.johnson@example.com', '172.16.58.30'),
        ('disconnect', 'Username', None),
        ('disconnect', 'bstoll', None),
        ('Ignored', 'other_message'),
    ]


def test_globalprotect_user_without_domain_and_device_aliases():
    assert outcomes('globalprotect.log') == [
        ('connect', 'musterman', '10.20.30.40'),
        ('seen', 'user1', '67.43.156.14'),
        ('Ignored', 'other_message'),
        ('Ignored', 'no_tunnel_ip'),  # IPv6-only tunnel
    ]
    with open(os.path.join(FIXTURES, 'globalprotect.log')) as handle:
        event = parse_vpn_line(handle.readline(), NOW)
    assert event.aliases == {'machine': 'Rechner123', 'host_id': '96c43d47-8bb5-4f78-8dfc-413a189a29e0', 'serial': 'SERIALNR'}
    assert event.time == 1614682862  # time generated, 2021/03/02 11:01:02 UTC


def test_fortigate_tunnel_ip_and_zone():
    assert outcomes('fortigate.log') == [('connect', 'salesuser', '172.16.100.1'), ('Ignored', 'no_tunnel_ip')]
    with open(os.path.join(FIXTURES, 'fortigate.log')) as handle:
        assert parse_vpn_line(handle.readline(), NOW).time == 1684630945  # 09:02:25 +0800


def test_ocserv():
    assert outcomes('ocserv.log') == [
        ('disconnect', 'lar', None),
        ('Ignored', 'other_message'),
        ('Ignored', 'no_tunnel_ip'),
        ('disconnect', 'test', None),
    ]


@pytest.mark.parametrize('line, reason', [
    ('%ASA-4-722051: Group <g> User <u> IP <1.2.3.4> IPv4 Address <10.0.0.300> IPv6 address <::> assigned', 'no_tunnel_ip'),
    ('%ASA-4-722051: Group <g> User <> IP <1.2.3.4> IPv4 Address <10.0.0.3> IPv6 address <::> assigned', 'no_user'),
    ('%ASA-4-722051: garbage', 'bad_cisco_asa'),
    ('x 1,2021/03/02 11:01:03,1,GLOBALPROTECT,0,2305,2021/03/02 11:01:02,vsys1,gateway-setup-ipsec,tunnel,,IPSec,u,DE', 'bad_globalprotect'),
])
def test_bad_lines_are_counted(line, reason):
    with pytest.raises((Ignored, SkippedLine)) as info:
        parse_vpn_line(line, NOW)
    assert info.value.reason == reason


def test_hostile_user_is_escaped():
    event = parse_vpn_line('%ASA-4-722051: Group <g> User <$(reboot);x> IP <1.2.3.4> IPv4 Address <10.0.0.3> '
                           'IPv6 address <::> assigned to session', NOW)
    assert event.user == '%' + '$(reboot);x'.encode().hex()


def test_bsd_time_without_year_is_never_far_in_the_future():
    assert line_time('Dec 31 23:59:59 host x', NOW) == 1767225599 - 365 * 86400  # Dec 31 2024
    assert line_time('2026-12-01T10:00:00+01:00 host x', NOW) == 1796115600
