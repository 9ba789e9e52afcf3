# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Lease databases as Kea 2.2, ISC dhcpd 4.4 and dnsmasq 2.89 write them (shared by the parser tests)."""
from __future__ import annotations

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
