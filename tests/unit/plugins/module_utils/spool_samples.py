# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Spool writing as the hooks do it, and a spool and dnsmasq lease file as a DHCP server leaves them."""
from __future__ import annotations

import os

from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import format_spool_record

BOOT = '00000000-0000-4000-8000-0000000000b1'  # a boot the module never saw: times are the segment's mtime
MAC1, MAC2, MAC3 = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'
DHCP_LEASE = format_spool_record('dnsmasq', 'lease', MAC1, '10.77.0.101', hostname='laptop-1', expires='+3600',
                                 boot_id=BOOT, uptime=10.0, pid=11)
DHCP_RELEASE_RS2 = format_spool_record('dnsmasq', 'release', MAC2, '10.77.0.102', boot_id=BOOT, uptime=11.0, pid=12,
                                       version='rs2')
VPN_CONNECT = format_spool_record('openvpn', 'connect', 'CN=laptop-3', '10.8.0.6', expires='+600', boot_id=BOOT,
                                  uptime=12.0, pid=13, id_kind='vpn_cert', aliases={'hwaddr': MAC3}, version='rs2')
GARBAGE = 'rs2 torn record\n'
LEASES = '2000000000 %s 10.77.0.101 laptop-1 01:%s\n2000000000 %s 10.77.0.103 * *\n' % (MAC1, MAC1, MAC3)


def hook_append(spool_dir, *records):
    """One O_APPEND write with a leading newline, as the hooks write."""
    fd = os.open(os.path.join(spool_dir, 'current'), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, ('\n' + ''.join(records)).encode())
    finally:
        os.close(fd)


def dhcp_server(directory, monkeypatch):
    """The spool (lease, rs2 release, VPN connect, a torn line) and the lease file in ``directory``,
    made the working directory so that module arguments can name them relatively."""
    os.mkdir(os.path.join(directory, 'spool'))
    hook_append(os.path.join(directory, 'spool'), DHCP_LEASE, DHCP_RELEASE_RS2, GARBAGE, VPN_CONNECT)
    with open(os.path.join(directory, 'dnsmasq.leases'), 'w') as handle:
        handle.write(LEASES)
    monkeypatch.chdir(directory)
    return directory


def listing(directory):
    """{name: bytes} of the spool directory, to prove a run changed nothing."""
    return {name: open(os.path.join(directory, name), 'rb').read() for name in sorted(os.listdir(directory))}
