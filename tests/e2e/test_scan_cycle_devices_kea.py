# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Devices with real parts: one laptop namespace with two interfaces (two MACs), both leased by a real Kea
carrying the roamscan hook, linked by the operator's alias list, is one device: one target in one launch,
credited on both identities. A second laptop that copies the first one's DHCP host name is not linked and gets
no credit of the first one's scan. Real ansible-playbook; the Qualys simulator on 127.0.0.1.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_scan_cycle_devices_kea.py   (root)
"""
from __future__ import annotations

import pytest

from cycle_lab import finish_scans, launch_call_ips, launch_calls, real_kea_lab, summary_of

pytestmark = [pytest.mark.root, pytest.mark.slow]

SECOND_MAC = '02:77:00:00:aa:99'


@pytest.fixture(name='kea')
def kea_fixture(ansible_env):
    """A real Kea with two laptops' namespaces."""
    with real_kea_lab(ansible_env, 'roamscan-devices-kea-', 2) as kea:
        yield kea


def finish_scan(kea, sim, ips):
    alive = kea.answering(ips)
    finish_scans(sim, alive)
    return alive


def host(mac):
    return 'mac-' + mac.replace(':', '')


def test_a_laptop_with_two_macs_is_one_device_and_a_copied_host_name_gets_nothing(kea, qualys_sim):
    kea.net.add_client_interface(0, SECOND_MAC)
    wired = kea.connect(0, 'alice-laptop', name='alice-eth0')
    wireless = kea.connect(0, 'alice-laptop', name='alice-eth1', interface='eth1')
    assert wired.mac != wireless.mac and wired.address() != wireless.address()
    settings = {'roamscan_device_aliases': [{'device': 'alice-laptop', 'identities': ['mac:' + wired.mac, 'mac:' + wireless.mac]}]}

    first = kea.lab.run(qualys_sim, extra_vars=settings)
    assert first.returncode == 0, first.stdout[-4000:]
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1
    target = launch_call_ips(calls[0])
    assert len(target) == 1 and target[0] in (wired.address(), wireless.address())   # one device, one target
    assert finish_scan(kea, qualys_sim, target) == target

    second = kea.lab.run(qualys_sim, extra_vars=settings)
    assert second.returncode == 0, second.stdout[-4000:]
    records, dummy = kea.lab.inventory()
    scanned = records[host(wired.mac)]['last_scanned']
    assert scanned and records[host(wireless.mac)]['last_scanned'] == scanned       # credited on both identities
    assert summary_of(second)['launched'] == [] and len(launch_calls(qualys_sim)) == 1

    copycat = kea.connect(1, 'alice-laptop', name='copycat')
    third = kea.lab.run(qualys_sim, extra_vars=settings)
    assert third.returncode == 0, third.stdout[-4000:]
    assert launch_call_ips(launch_calls(qualys_sim)[-1]) == [copycat.address()]   # scanned as itself, not skipped
    records, dummy = kea.lab.inventory()
    assert records[host(copycat.mac)]['hostname'] == 'alice-laptop'               # recorded ...
    assert records[host(copycat.mac)]['last_scanned'] is None                     # ... never trusted
    assert not records[host(copycat.mac)].get('links')
