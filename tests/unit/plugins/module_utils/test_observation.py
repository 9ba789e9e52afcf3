# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The observation model (_observation): records and lease-table rows become observations."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._observation import authority_of, from_lease_row, from_record
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import (
    SOURCES,
    BootClock,
    format_spool_record,
    parse_spool_line,
)

BOOT = 'ba9dc015-a0ea-493d-a762-4adb86d990c9'
CLOCK = BootClock({BOOT: 1795840000})


def test_an_rs1_record_is_a_mac_observation_with_table_authority():
    record = parse_spool_line(format_spool_record('dhcpd', 'lease', '2:77:0:0:a:1', '10.77.0.100', hostname='pc-17',
                                                  expires='+30', boot_id=BOOT, uptime=432.76, pid=8241), clock=CLOCK)
    assert from_record(record, 'dhcp1') == {
        'id': record.id, 'source': {'kind': 'dhcpd', 'host': 'dhcp1'}, 'event': 'start', 'why': 'lease',
        'identity': {'kind': 'mac', 'value': '02:77:00:00:0a:01'}, 'ip': '10.77.0.100',
        'time': '2026-11-28T04:33:52Z', 'until': '2026-11-28T04:34:22Z', 'aliases': {}, 'hostname': 'pc-17',
        'authority': 'table'}


def test_a_log_record_keeps_its_aliases_and_has_log_authority():
    line = format_spool_record('samba', 'seen', 'LAPTOP-17$', '10.77.0.100', boot_id=BOOT, uptime=5.0,
                               id_kind='ad_machine', aliases={'platform': 'win'}, version='rs2')
    observation = from_record(parse_spool_line(line, clock=CLOCK), 'dc1')
    assert (observation['event'], observation['why'], observation['authority']) == ('seen', 'seen', 'log')
    assert observation['identity'] == {'kind': 'ad_machine', 'value': 'LAPTOP-17$'}
    assert observation['aliases'] == {'platform': 'win'} and observation['until'] is None


TABLE_KINDS = ('kea', 'dhcpd', 'dnsmasq', 'openvpn', 'ocserv', 'strongswan', 'wireguard')
LOG_KINDS = ('receiver', 'syslog', 'samba', 'windows', 'neighbor', 'probe')


@pytest.mark.parametrize('source, authority', [(s, 'table') for s in TABLE_KINDS] + [(s, 'log') for s in LOG_KINDS])
def test_authority_is_a_property_of_the_source_kind(source, authority):
    assert source in SOURCES and authority_of(source) == authority


@pytest.mark.parametrize('state, event', [('active', 'seen'), ('released', 'end'), ('expired', 'end'),
                                          ('declined', 'end'), ('free', 'end')])
def test_lease_rows_are_seen_while_active_and_end_otherwise(state, event):
    row = {'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': None, 'expires': '2026-11-28T08:00:00Z',
           'state': state}
    observation = from_lease_row('kea', row, 'dhcp1', '2026-11-28T07:00:00Z')
    assert (observation['event'], observation['why'], observation['time'], observation['until']) == (
        event, state, '2026-11-28T07:00:00Z', '2026-11-28T08:00:00Z')
    assert observation['id'] is None and observation['authority'] == 'table'


def test_a_row_without_a_mac_names_no_identity():
    row = {'mac': None, 'ip': '10.77.0.50', 'hostname': None, 'expires': None, 'state': 'declined'}
    assert from_lease_row('kea', row, 'dhcp1', '2026-11-28T07:00:00Z') is None
