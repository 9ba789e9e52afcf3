# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scan cycle with real parts: a real Kea carrying the roamscan hook (deployed by the dhcp_hook
role) in a network namespace, real busybox udhcpc laptops, real ansible-playbook
roamscan.qualys.scan_overdue running lease_events inside the server namespace, and the Qualys
simulator on 127.0.0.1 driven through its admin API. Who is "alive" for the scan is what answers a
ping from the DHCP server's network when the scan finishes.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_scan_cycle_kea.py   (root)
"""
from __future__ import annotations

import json
import time
import urllib.request

import pytest

from cycle_lab import launch_call_ips, launch_calls, real_kea_lab, summary_of

pytestmark = [pytest.mark.root, pytest.mark.slow]

# Lease and scan times have second precision: events this far apart are ordered in the records.
SECOND = 1.1


@pytest.fixture(name='kea')
def kea_fixture(ansible_env):
    """A controller (jsonfile fact cache) whose DHCP server dhcp1 is a real Kea with three laptops' namespaces."""
    with real_kea_lab(ansible_env, 'roamscan-cycle-kea-', 3) as kea:
        yield kea


def sim_admin(sim, route, body):
    request = urllib.request.Request('%s/_sim/%s' % (sim.url, route), data=json.dumps(body).encode(), method='POST')
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def sim_state(sim):
    with urllib.request.urlopen('%s/_sim/state' % sim.url, timeout=30) as answer:
        return json.loads(answer.read())


def finish_scan(kea, sim, ips):
    """The simulator's scan finds alive what answers on the lab network now, and is processed."""
    alive = kea.answering(ips)
    sim_admin(sim, 'alive', {'ips': alive})
    sim_admin(sim, 'scans', {'ref': '*', 'action': 'process'})
    return alive


def host(mac):
    return 'mac-' + mac.replace(':', '')


def test_three_real_laptops_one_launch_then_all_credited_and_nothing_more(kea, qualys_sim):
    laptops = [kea.connect(index, 'laptop-%d' % index) for index in range(3)]
    addresses = sorted(laptop.address() for laptop in laptops)

    first = kea.lab.run(qualys_sim)
    assert first.returncode == 0, first.stdout[-4000:]
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1
    assert sorted(launch_call_ips(calls[0])) == addresses
    summary = summary_of(first)
    assert sorted(summary['launched_targets']) == addresses and summary['dhcp_servers_reported'] == ['dhcp1']
    records, groups = kea.lab.inventory()
    assert groups['roaming_pending'] == {host(laptop.mac) for laptop in laptops}
    assert {records[host(laptop.mac)]['pending']['ip'] for laptop in laptops} == set(addresses)

    assert finish_scan(kea, qualys_sim, addresses) == addresses
    second = kea.lab.run(qualys_sim)
    assert second.returncode == 0, second.stdout[-4000:]
    summary = summary_of(second)
    assert sorted(summary['credited']) == sorted(laptop.mac for laptop in laptops)
    assert summary['launched'] == [] and len(launch_calls(qualys_sim)) == 1
    records, groups = kea.lab.inventory()
    for laptop in laptops:
        record = records[host(laptop.mac)]
        assert record['last_scanned'] and record['pending'] is None and record['ip'] == laptop.address()
        assert record['hostname'] == 'laptop-%d' % laptops.index(laptop)   # option 12, as Kea reported it
    assert groups['roaming_present'] == {host(laptop.mac) for laptop in laptops}
    assert not groups.get('roaming_overdue') and not groups.get('roaming_pending')


@pytest.mark.parametrize('scan_starts', ['after B got the IP', 'before A released it'])
def test_ip_reused_by_another_laptop_never_credits_it_as_the_first(kea, qualys_sim, scan_starts):
    first = kea.connect(0, 'laptop-a')
    address = first.address()
    assert kea.lab.run(qualys_sim).returncode == 0
    assert [launch_call_ips(call) for call in launch_calls(qualys_sim)] == [[address]]

    if scan_starts == 'before A released it':
        sim_admin(qualys_sim, 'scans', {'ref': '*', 'action': 'start'})
        time.sleep(SECOND)
    # A leaves (DHCPRELEASE); B asks Kea for that very address and gets it
    first.release()
    first.wait_for('deconfig', count=2)
    first.stop()
    second = kea.connect(1, 'laptop-b', '-r', address)
    assert second.address() == address
    if scan_starts == 'after B got the IP':
        time.sleep(SECOND)
        sim_admin(qualys_sim, 'scans', {'ref': '*', 'action': 'start'})
    assert finish_scan(kea, qualys_sim, [address]) == [address]   # the scan finds the IP alive: it is B

    proc = kea.lab.run(qualys_sim)
    assert proc.returncode == 0, proc.stdout[-4000:]
    summary = summary_of(proc)
    assert summary['credited'] == []
    assert [item['mac'] for item in summary['not_credited']] == [first.mac]
    records, groups = kea.lab.inventory()
    assert records[host(first.mac)]['last_scanned'] is None and host(first.mac) in groups['roaming_overdue']
    assert records[host(first.mac)]['lease_state'] == 'released'
    laptop_b = records[host(second.mac)]
    if scan_starts == 'after B got the IP':
        # the scanner really scanned B: B counts as scanned through the Qualys host list, on its own record
        scanned = [item['last_vuln_scan'] for item in sim_state(qualys_sim)['hosts'] if item['ip'] == address]
        assert laptop_b['last_scanned'] == scanned[0] and laptop_b['last_scan_ref'] is None
        assert laptop_b['held_since'] <= laptop_b['last_scanned']
        assert summary['launched'] == [] and len(launch_calls(qualys_sim)) == 1
    else:
        # B took the IP in the middle of the scan: nobody gets it, B gets its own scan
        assert laptop_b['last_scanned'] is None
        assert summary['launched_targets'] == [address] and laptop_b['pending']['scan_ref']
