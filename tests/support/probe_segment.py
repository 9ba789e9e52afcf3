# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A laptop segment with many laptops for benchmarks (root): a probe-host namespace and a "laptops"
namespace joined by one veth pair. Every laptop is one address of the laptops namespace's end,
and an nftables map in that namespace writes each laptop's own MAC into the ARP replies the
kernel sends for its address (one interface per laptop would make the kernel copy every
broadcast hundreds of times and drop most copies). Addresses in ``absent`` are leased but not
configured: nobody answers for them.

Nothing leaves the two namespaces; both are deleted on exit.
"""
from __future__ import annotations

import ipaddress
import secrets
import subprocess

from netns import NamespaceLab, run

NETWORK = ipaddress.IPv4Network('10.78.0.0/22')


def laptop_mac(index):
    return '02:78:%02x:%02x:%02x:%02x' % (index >> 24 & 255, index >> 16 & 255, index >> 8 & 255, index & 255)


class ProbeSegment(NamespaceLab):
    def __init__(self, count, absent_every=10, namespace_prefix='probe'):
        self.processes = []   # none: the kernel and nftables answer for the laptops
        token = secrets.token_hex(4)
        self.probe_ns = '%s%s-p' % (namespace_prefix, token)
        self.laptops_ns = '%s%s-l' % (namespace_prefix, token)
        self.interface = 'lan0'
        hosts = NETWORK.hosts()
        self.probe_ip = str(next(hosts))
        self.laptops = [(str(next(hosts)), laptop_mac(index)) for index in range(count)]
        self.absent = {ip for index, (ip, dummy) in enumerate(self.laptops) if absent_every and index % absent_every == absent_every - 1}

    def __enter__(self):
        try:
            for namespace in (self.probe_ns, self.laptops_ns):
                run('ip', 'netns', 'add', namespace)
            run('ip', 'link', 'add', 'lan0', 'netns', self.probe_ns, 'type', 'veth', 'peer', 'name', 'trunk', 'netns', self.laptops_ns)
            present = [(ip, mac) for ip, mac in self.laptops if ip not in self.absent]
            commands = ['link set lo up', 'link set trunk up']
            commands += ['addr add %s/%d dev trunk' % (ip, NETWORK.prefixlen) for ip, dummy in present]
            subprocess.run(['ip', '-n', self.laptops_ns, '-batch', '-'], input='\n'.join(commands) + '\n', text=True,
                           check=True, capture_output=True, timeout=600)
            ruleset = ('table arp roamscan_laptops {\n  map macs { type ipv4_addr : ether_addr; elements = { %s } }\n'
                       '  chain out { type filter hook output priority 0; '
                       'arp operation reply arp saddr ether set arp saddr ip map @macs; }\n}\n'
                       % ', '.join('%s : %s' % pair for pair in present))
            subprocess.run(['ip', 'netns', 'exec', self.laptops_ns, 'nft', '-f', '-'], input=ruleset, text=True,
                           check=True, capture_output=True, timeout=120)
            run('ip', '-n', self.probe_ns, 'addr', 'add', '%s/%d' % (self.probe_ip, NETWORK.prefixlen), 'dev', 'lan0')
            run('ip', '-n', self.probe_ns, 'link', 'set', 'lan0', 'up')
            run('ip', '-n', self.probe_ns, 'link', 'set', 'lo', 'up')
        except BaseException:
            self.close()
            raise
        return self

    def namespaces(self):
        return [self.laptops_ns, self.probe_ns]
