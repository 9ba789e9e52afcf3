# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lease database parsers, with the formats recorded in reference/dhcp-servers.md section 8."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils.presence import (
    LeaseFileError,
    parse_dhcpd_leases,
    parse_dnsmasq_leases,
    parse_kea_leases,
    read_lease_table,
)

BOUND_AT = 1795847920  # while the sample client was bound (its lease ends 1795847938/9)

KEA_CSV = '''address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context
10.77.0.100,02:77:00:00:0a:01,01:02:77:00:00:0a:01,30,1795847938,1,0,0,xtouchtmppwnedid,0,
10.77.0.100,02:77:00:00:0a:01,01:02:77:00:00:0a:01,30,1795847939,1,0,0,xtouchtmppwnedid,0,
10.77.0.101,02:77:00:00:0b:02,01:02:77:00:00:0b:02,30,1795847939,1,0,0,a&#x2cb,0,
10.77.0.50,,,86400,1795934318,1,0,0,,1,
'''
KEA_RELEASE = '10.77.0.100,02:77:00:00:0a:01,01:02:77:00:00:0a:01,0,1795847909,1,0,0,xtouchtmppwnedid,0,\n'

DHCPD_LEASES = r'''# The format of this file is documented in the dhcpd.leases(5) manual page.
# This lease file was written by isc-dhcp-4.4.3-P1

# authoring-byte-order entry is generated, DO NOT DELETE
authoring-byte-order little-endian;

server-duid "\000\001\000\001,\246\026\2022w\000\000\000\001";

lease 10.77.0.100 {
  starts 6 2026/11/28 06:38:38;
  ends 6 2026/11/28 06:39:08;
  binding state active;
  hardware ethernet 02:77:00:00:0a:01;
}
lease 10.77.0.100 {
  starts 6 2026/11/28 06:39:38;
  ends 6 2026/11/28 06:40:08;
  cltt 6 2026/11/28 06:39:38;
  binding state active;
  next binding state free;
  rewind binding state free;
  hardware ethernet 02:77:00:00:0a:01;
  uid "\001\002w\000\000\012\001";
  set lab_mac = "2:77:0:0:a:1";
  set lab_ip = "10.77.0.100";
  client-hostname "x;touch /tmp/pwned;$(id)";
  on expiry {
    set lab_ip = binary-to-ascii (10, 8, ".", leased-address);
    execute ("/usr/local/lib/dhcp-hooks/record-lease.sh", "expiry", lab_ip, "}{;");
  }
  on release {
    execute ("/usr/local/lib/dhcp-hooks/record-lease.sh", "release", lab_ip);
  }
}
lease 10.77.0.101 {
  starts 6 2026/11/28 06:39:00;
  ends 6 2026/11/28 06:39:30;
  binding state active;
  hardware ethernet 02:77:00:00:0b:02;
  client-hostname "pc-b";
}
lease 10.77.0.102 {
  starts 6 2026/11/28 06:39:00;
  ends 6 2026/11/28 06:45:30;
  binding state free;
  hardware ethernet 02:77:00:00:0c:03;
  client-hostname "say \"hi\"";
}
lease 10.77.0.103 {
  starts epoch 1795847900;
  ends epoch 1795849000;
  binding state abandoned;
}
lease 10.77.0.104 {
  starts 6 2026/11/28 06:39:38;
'''

DNSMASQ_LEASES = '''1795848217 02:77:00:00:0a:01 10.77.0.142 * 01:02:77:00:00:0a:01
1795847554 02:77:00:00:0b:02 10.77.0.105 slow-b 01:02:77:00:00:0b:02
0 02:77:00:00:0c:03 10.77.0.106 printer *
duid 00:01:00:01:2c:a6:16:82:32:77:00:00:00:01
1795848217 1234 fd00::5 host6 00:01
'''


def by_ip(table):
    return {lease['ip']: lease for lease in table}


def test_kea_last_row_wins_and_states():
    table = by_ip(parse_kea_leases(KEA_CSV, BOUND_AT))
    assert table['10.77.0.100'] == {'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': 'xtouchtmppwnedid',
                                    'expires': '2026-11-28T06:38:59Z', 'state': 'active'}
    assert table['10.77.0.50'] == {'mac': None, 'ip': '10.77.0.50', 'hostname': None,
                                   'expires': '2026-11-29T06:38:38Z', 'state': 'declined'}
    assert table['10.77.0.101']['hostname'] is None  # escaped comma: not a safe name
    assert list(table) == ['10.77.0.50', '10.77.0.100', '10.77.0.101']


def test_kea_deleted_row_and_expiry():
    # a release and a reclaimed expiry both write valid_lifetime 0 (seen with Kea 2.2 in tests/e2e)
    assert by_ip(parse_kea_leases(KEA_CSV + KEA_RELEASE, BOUND_AT))['10.77.0.100']['state'] == 'free'
    assert by_ip(parse_kea_leases(KEA_CSV, 1795847940))['10.77.0.101']['state'] == 'expired'
    reclaimed = '10.77.0.101,02:77:00:00:0b:02,,30,1795847939,1,0,0,,2,\n'
    assert by_ip(parse_kea_leases(KEA_CSV + reclaimed, BOUND_AT))['10.77.0.101']['state'] == 'expired'


def test_kea_lfc_files_are_read_before_the_live_file(tmp_path):
    live = tmp_path / 'kea-leases4.csv'
    header = KEA_CSV.splitlines()[0] + '\n'
    (tmp_path / 'kea-leases4.csv.2').write_text(header + '10.77.0.120,02:77:00:00:0d:01,,30,1795847999,1,0,0,old,0,\n')
    live.write_text(header + '10.77.0.121,02:77:00:00:0d:02,,30,1795847999,1,0,0,new,0,\n')
    table = by_ip(read_lease_table('kea', str(live), BOUND_AT))
    assert set(table) == {'10.77.0.120', '10.77.0.121'}


def test_dhcpd_last_block_wins_hostile_names_dropped_and_cut_block_ignored():
    table = by_ip(parse_dhcpd_leases(DHCPD_LEASES, 1795847990))
    assert table['10.77.0.100'] == {'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': None,
                                    'expires': '2026-11-28T06:40:08Z', 'state': 'active'}
    assert table['10.77.0.101']['state'] == 'expired' and table['10.77.0.101']['hostname'] == 'pc-b'
    assert table['10.77.0.102']['state'] == 'free'
    assert table['10.77.0.103'] == {'mac': None, 'ip': '10.77.0.103', 'hostname': None,
                                    'expires': '2026-11-28T06:56:40Z', 'state': 'declined'}
    assert '10.77.0.104' not in table


def test_dnsmasq_rows_infinite_and_ipv6_lines():
    table = by_ip(parse_dnsmasq_leases(DNSMASQ_LEASES, BOUND_AT))
    assert table['10.77.0.142'] == {'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.142', 'hostname': None,
                                    'expires': '2026-11-28T06:43:37Z', 'state': 'active'}
    assert table['10.77.0.105']['state'] == 'expired' and table['10.77.0.105']['hostname'] == 'slow-b'
    assert table['10.77.0.106'] == {'mac': '02:77:00:00:0c:03', 'ip': '10.77.0.106', 'hostname': 'printer',
                                    'expires': None, 'state': 'active'}
    assert len(table) == 3


def test_missing_lease_file_and_unknown_server_are_clear_errors(tmp_path):
    with pytest.raises(LeaseFileError, match='does not exist'):
        read_lease_table('dnsmasq', str(tmp_path / 'none'))
    with pytest.raises(LeaseFileError, match='unknown DHCP server'):
        read_lease_table('infoblox', str(tmp_path / 'none'))


def test_unreadable_bytes_do_not_break_the_table(tmp_path):
    path = tmp_path / 'dnsmasq.leases'
    path.write_bytes(b'\xff\xfe garbage\n' + DNSMASQ_LEASES.encode())
    assert len(read_lease_table('dnsmasq', str(path), BOUND_AT)) == 3
