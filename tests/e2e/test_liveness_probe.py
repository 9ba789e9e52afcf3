# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The probe modules against real laptops: a real Kea with the roamscan hook (dhcp_hook role) in a
network namespace, busybox udhcpc laptops on its bridge, and liveness_probe, arp_sweep and
neighbor_table run by real ansible-playbook inside the DHCP server's namespace (the probe host on
the laptops' segment). Every frame the server namespace sends is captured to prove the allow-list.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_liveness_probe.py   (root)
"""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from capture import Capture, arp_requests_from, ipv4_and_arp_from
from cycle_lab import CycleLab, RealKea, launch_call_ips, launch_calls, summary_of
from module_run import run_module
from netns import run, wait_until

pytestmark = [pytest.mark.root, pytest.mark.slow]

SEGMENT = '10.77.0.0/24'
IMPOSTOR = 4


def real_kea(ansible_env):
    """A real Kea with five namespaces on its bridge: four laptops and a spare one (the impostor)."""
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-probe-'))
    os.chmod(workdir, 0o755)   # Kea runs as _kea and must reach its files below
    try:
        with RealKea(CycleLab(workdir / 'controller', ansible_env), workdir / 'dhcp', clients=5,
                     namespace_prefix='probe') as kea:
            yield kea
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(name='kea', scope='module')
def kea_fixture(ansible_env):
    """One lab for the module tests."""
    yield from real_kea(ansible_env)


@pytest.fixture(name='fresh_kea')
def fresh_kea_fixture(ansible_env):
    """A lab of its own, for a cycle that starts from no records."""
    yield from real_kea(ansible_env)


def server_mac(kea):
    return run('ip', '-n', kea.net.server_ns, '-o', 'link', 'show', 'br0').stdout.split('link/ether ')[1].split()[0]


def drop_icmp(kea, index):
    """An nftables rule in the laptop's namespace drops inbound echo requests, as the Windows firewall does."""
    namespace = kea.net.client_ns[index]
    kea.net.netns_exec(namespace, 'nft', 'add table inet roamscan_fw')
    kea.net.netns_exec(namespace, 'nft', 'add chain inet roamscan_fw input { type filter hook input priority 0 ; }')
    kea.net.netns_exec(namespace, 'nft', 'add rule inet roamscan_fw input icmp type echo-request drop')


def gone_firewalled_and_doubled(kea):
    """Four laptops with leases: one here, one whose link went down, one dropping ICMP, one whose IP a
    second machine (the spare namespace) answers for too."""
    laptops = [kea.connect(index, 'laptop-%d' % index) for index in range(4)]
    run('ip', '-n', laptops[1].namespace, 'link', 'set', 'eth0', 'down')   # left without releasing: the lease stays
    drop_icmp(kea, 2)
    kea.net.add_client_address(IMPOSTOR, laptops[3].address())
    assert kea.answering([laptops[2].address()]) == []                     # the rule really drops ping
    return laptops


def liveness(kea, targets, allow=(SEGMENT,), **extra):
    return run_module(kea.lab, kea.server, 'liveness_probe',
                      dict({'interface': 'br0', 'allow': list(allow), 'targets': targets}, **extra))


def test_arp_finds_the_firewalled_laptop_drops_the_gone_one_and_names_the_impostor(kea):
    laptops = gone_firewalled_and_doubled(kea)
    gone, firewalled, doubled = laptops[1], laptops[2], laptops[3]

    result = liveness(kea, [{'ip': laptop.address(), 'mac': laptop.mac} for laptop in laptops])
    assert not result.get('failed'), result
    verdicts = {item['ip']: item for item in result['results']}
    present = verdicts[laptops[0].address()]
    assert (present['alive'], present['method'], present['mac'], present['reason']) == (True, 'arp', laptops[0].mac, None)
    assert (verdicts[gone.address()]['alive'], verdicts[gone.address()]['reason']) == (False, 'no_reply')
    assert verdicts[firewalled.address()]['reason'] is None and verdicts[firewalled.address()]['mac'] == firewalled.mac
    impostor_mac = kea.net.client_mac(IMPOSTOR)
    assert verdicts[doubled.address()]['reason'] == 'mac_mismatch'
    assert verdicts[doubled.address()]['mac'] == impostor_mac and impostor_mac in verdicts[doubled.address()]['macs']
    # one pass + one retry for the silent one: 4 + 1 ARP requests, nothing else
    assert result['packets_sent'] == {'arp': 5}


def test_the_neighbour_table_sees_the_laptops_the_server_talked_to(kea):
    laptops = [kea.connect(index, 'laptop-%d' % index, name='neigh-%d' % index) for index in (0, 2)]
    for laptop in laptops:
        laptop.renew()   # a unicast REQUEST to the server: the laptop ARPs for it, the kernel learns the laptop
        laptop.wait_for('renew')
    # the server talks to the first one (a ping): the kernel then confirms the entry by a unicast ARP
    # probe (DELAY, PROBE) and the laptop's answer makes it REACHABLE
    kea.net.netns_exec(kea.net.server_ns, 'busybox', 'ping', '-c', '1', '-W', '2', laptops[0].address())

    def observed():
        result = run_module(kea.lab, kea.server, 'neighbor_table', {'interfaces': ['br0'], 'source_host': 'dhcp1'})
        assert not result.get('failed'), result
        return {(item['identity']['value'], item['ip']): item for item in result['observations']}

    def both_seen():
        seen = observed()
        if not all((laptop.mac, laptop.address()) in seen for laptop in laptops):
            return None
        return seen if seen[(laptops[0].mac, laptops[0].address())]['why'] == 'reachable' else None
    found = wait_until(both_seen, 30, interval=1, what='both laptops in the neighbour table, the first REACHABLE')
    # the other one only sent its ARP request: known, never confirmed, so dated no later than that request
    assert found[(laptops[1].mac, laptops[1].address())]['why'] in ('stale', 'delay', 'probe', 'reachable')
    assert all(item['source'] == {'kind': 'neighbor', 'host': 'dhcp1'} and item['event'] == 'seen' for item in found.values())
    assert not any(mac == kea.net.client_mac(1) for mac, ip in found)   # the laptop whose link is down never talked


def test_outside_the_allow_list_nothing_is_sent_and_inside_only_allowed_targets(kea):
    mac = server_mac(kea)
    laptop = kea.connect(0, 'laptop-0', name='allow-0')
    with Capture(kea.lab.root / 'tmp', kea.net.server_ns) as refused:
        outside = liveness(kea, [{'ip': laptop.address(), 'mac': laptop.mac}, {'ip': '10.77.1.5'}], allow=['10.77.0.0/24'])
        no_list = liveness(kea, [{'ip': laptop.address(), 'mac': laptop.mac}], allow=[])
        sweep = run_module(kea.lab, kea.server, 'arp_sweep', {'interface': 'br0', 'allow': ['10.77.0.0/25'],
                                                              'subnets': ['10.77.0.0/24']})
    assert outside['failed'] and '10.77.1.5' in outside['msg'] and 'nothing sent' in outside['msg']
    assert no_list['failed'] and 'allow-list' in no_list['msg']
    assert sweep['failed'] and 'not inside the allow-list' in sweep['msg']
    assert ipv4_and_arp_from(refused.frames(), mac) == []

    with Capture(kea.lab.root / 'tmp', kea.net.server_ns) as allowed:
        swept = run_module(kea.lab, kea.server, 'arp_sweep', {'interface': 'br0', 'allow': ['10.77.0.96/28'],
                                                              'subnets': ['10.77.0.96/28'], 'rate': 200})
    assert not swept.get('failed'), swept
    assert (laptop.mac, laptop.address()) in {(o['identity']['value'], o['ip']) for o in swept['observations']}
    asked = arp_requests_from(allowed.frames(), mac)
    assert asked and {target for dummy, target in asked} <= {'10.77.0.%d' % n for n in range(97, 111)}
    # the probe's own frames go out of br0 only (the bridge floods them to its ports inside the namespace)
    assert {ifname for ifname, dummy in asked} <= {'br0'} | {'p%d' % index for index in range(5)}
    assert swept['packets_sent'] <= 2 * 14 and swept['addresses'] == 14


def test_the_cycle_launches_only_the_laptops_the_probe_found_with_their_mac(fresh_kea, qualys_sim):
    kea = fresh_kea
    laptops = gone_firewalled_and_doubled(kea)
    kea.lab.set_server_vars(kea.server, roamscan_probe_interface='br0', roamscan_probe_become=False)
    cycle = kea.lab.run(qualys_sim, extra_vars={'roamscan_liveness_probe': True})
    assert cycle.returncode == 0, (cycle.stdout + cycle.stderr)[-4000:]
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1
    # the laptop that drops ICMP is found by ARP and scanned; the gone one and the doubled IP are not
    assert sorted(launch_call_ips(calls[0])) == sorted([laptops[0].address(), laptops[2].address()])
    summary = summary_of(cycle)
    assert sorted((item['ip'], item['reason']) for item in summary['dropped_at_launch']) == sorted(
        [(laptops[1].address(), 'no_reply'), (laptops[3].address(), 'mac_mismatch')])
    assert summary['not_probed'] == [] and summary['liveness_probe']['hosts'] == [kea.server]
    assert summary['liveness_probe']['packets_sent'] == {'arp': 5}   # four targets, one retry for the silent one
    # the probe costs no Qualys call: the host list and the one launch (no scan-list lookup before a launch)
    assert [(call['path'].split('/fo/')[-1], call['params'].get('action')) for call in qualys_sim.state.calls] == [
        ('asset/host/', 'list'), ('scan/', 'launch')]


def test_the_cycle_lets_the_neighbour_table_end_a_holding_another_mac_answers_for_and_refresh_its_own(fresh_kea, qualys_sim):
    """The DHCP server is also a neighbour source: its neighbour table, read by the cycle, is the online list."""
    kea = fresh_kea
    here, gone = kea.connect(0, 'laptop-0'), kea.connect(1, 'laptop-1')
    run('ip', '-n', gone.namespace, 'link', 'set', 'eth0', 'down')   # gone without releasing: its lease stays open
    kea.net.add_client_address(IMPOSTOR, gone.address())             # another machine now answers at its IP
    run('ip', '-n', kea.net.server_ns, 'neigh', 'flush', 'dev', 'br0')
    for laptop in (here, gone):   # the server talks to both IPs: the kernel confirms who answers at each
        kea.net.netns_exec(kea.net.server_ns, 'busybox', 'ping', '-c', '1', '-W', '2', laptop.address())
    kea.lab.add_group_host('neighbor_sources', kea.server, roamscan_neighbor_interfaces=['br0'])

    cycle = kea.lab.run(qualys_sim)
    assert cycle.returncode == 0, (cycle.stdout + cycle.stderr)[-4000:]
    summary = summary_of(cycle)
    assert summary['neighbor_sources_reported'] == [kea.server]
    assert [(item['mac'], item['ip'], item['seen_mac']) for item in summary['neighbor_ended']] == [
        (gone.mac, gone.address(), kea.net.client_mac(IMPOSTOR))]
    # its own MAC confirmed at its IP keeps the other one held (the lease table read in the same cycle is as new)
    assert launch_call_ips(launch_calls(qualys_sim)[0]) == [here.address()]   # the open lease alone launches nothing
    records, dummy = kea.lab.inventory()
    by_mac = {record['mac']: record for record in records.values()}
    assert by_mac[gone.mac]['lease_state'] == 'reassigned'
    assert by_mac[here.mac]['lease_state'] == 'active' and by_mac[here.mac]['last_seen'] > by_mac[here.mac]['held_since']

    # the next cycle still finds the open lease in Kea's table: it does not reopen what the sighting ended
    again = kea.lab.run(qualys_sim, extra_vars={'roamscan_max_active_scans': 2})
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert summary_of(again)['launched_targets'] == [] and len(launch_calls(qualys_sim)) == 1
