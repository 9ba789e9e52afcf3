# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the presence receiver accepts (_presence_payloads): only a disconnect may name no IP."""
from __future__ import annotations

import json

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._presence_payloads import parse_body
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import format_spool_record, parse_spool_line

NOW = 1796115600.0  # 2026-12-01T09:00:00Z
SYSLOG = {'format': 'syslog'}
NDJSON = {'format': 'ndjson'}
CONNECT = ('2026-12-01T08:01:00+00:00 asa1 : %ASA-6-722051: Group <vpn> User <carol> IP <198.51.100.7> '
           'IPv4 Address <10.88.0.7> IPv6 address <::> assigned to session')
DISCONNECT = ('2026-12-01T08:30:00+00:00 asa1 : %ASA-4-113019: Group = vpn, Username = carol, IP = 198.51.100.7, '
              'Session disconnected. Session Type: SSL, Duration: 0h:29m:00s, Bytes xmt: 1, Bytes rcv: 2, Reason: User Requested')
PARENT = ('2026-12-01T08:01:00+00:00 asa1 : %ASA-6-113039: Group <vpn> User <carol> IP <198.51.100.7> '
          'AnyConnect parent session started.')


def lines(*texts):
    return ('\n'.join(texts) + '\n').encode()


def spooled(item):
    """The rs2 line the receiver writes for an item, parsed back (what presence_events reads)."""
    line = format_spool_record('receiver', item.kind, item.id_value, item.ip, id_kind=item.id_kind,
                               aliases=item.aliases, version='rs2')
    return parse_spool_line(line, fallback_time=NOW)


def test_an_asa_113019_disconnect_is_an_end_without_an_ip_and_the_113039_parent_session_stays_left_out():
    items, skipped = parse_body(SYSLOG, lines(CONNECT, PARENT, DISCONNECT), NOW)
    assert skipped == {'no_tunnel_ip': 1}
    connect, disconnect = items
    assert (connect.kind, connect.id_value, connect.ip) == ('connect', 'carol', '10.88.0.7')
    assert (disconnect.kind, disconnect.id_kind, disconnect.id_value, disconnect.ip) == ('disconnect', 'vpn_user', 'carol', None)
    assert disconnect.time == 1796113800.0 and disconnect.event_id == DISCONNECT
    record = spooled(disconnect)
    assert (record.event, record.ip, record.id_value, record.aliases['parser']) == ('end', None, 'carol', 'cisco_asa')


def test_a_hostile_user_name_in_an_ip_less_disconnect_stays_escaped_in_the_spool():
    evil = DISCONNECT.replace('Username = carol', 'Username = CORP\\bad $(reboot);`id`')
    items, skipped = parse_body(SYSLOG, lines(evil), NOW)
    assert skipped == {} and items[0].ip is None
    record = spooled(items[0])
    assert record.id_value.startswith('%') and bytes.fromhex(record.id_value[1:]).decode() == 'bad $(reboot);`id`'


@pytest.mark.parametrize('event, ip, accepted', [
    ('end', None, True), ('disconnect', '', True), ('end', '10.88.0.9', True),
    ('start', None, False), ('seen', '', False), ('connect', None, False), ('end', 'not-an-ip', False), ('end', 7, False),
])
def test_ndjson_only_an_end_may_name_no_ip_anything_else_is_skipped_as_bad_ip(event, ip, accepted):
    body = {'event': event, 'identity': {'kind': 'vpn_user', 'value': 'dave'}, 'time': NOW - 60}
    if ip is not None:
        body['ip'] = ip
    items, skipped = parse_body(NDJSON, json.dumps(body).encode(), NOW)
    if accepted:
        assert skipped == {} and items[0].ip == (ip or None)
        assert spooled(items[0]).event == 'end'
    else:
        assert items == [] and skipped == {'bad_ip': 1}


def test_a_splunk_row_without_an_ip_is_kept_only_when_the_field_map_says_it_ended():
    endpoint = {'format': 'splunk', 'field_map': {'event_field': 'action'}}
    ended = {'sid': 's1', 'result': {'user': 'erin', 'action': 'end', '_time': str(NOW - 5)}}
    seen = {'sid': 's2', 'result': {'user': 'erin', 'action': 'seen', '_time': str(NOW - 5)}}
    items, skipped = parse_body(endpoint, json.dumps(ended).encode(), NOW)
    assert skipped == {} and (items[0].kind, items[0].ip) == ('disconnect', None)
    assert parse_body(endpoint, json.dumps(seen).encode(), NOW) == ([], {'bad_ip': 1})
