# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-driven roamscan with real parts: a laptop (busybox udhcpc) gets a lease from a real
dnsmasq carrying the roamscan hook in a network namespace; real ansible-rulebook with the shipped
rulebook sees it through the dhcp_leases source and runs roamscan.qualys.scan_overdue, which
launches the scan in the Qualys simulator. Renewals and a reconnect inside the throttle window
run nothing more.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_eda_lease_to_launch.py   (root)
"""
from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pytest

from eda_lab import EdaLab

pytestmark = [pytest.mark.root, pytest.mark.slow]

# Long enough for a (wrongly) triggered second cycle to start and finish on this machine.
QUIET_SECONDS = 25


@pytest.fixture(name='lab')
def lab_fixture(ansible_env):
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-eda-'))
    try:
        with EdaLab(workdir, ansible_env, clients=2) as lab:
            lab.start_rulebook()
            yield lab
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_new_lease_launches_once_and_renewals_or_reconnects_run_nothing(lab):
    laptop = lab.dhcp.run_udhcpc(0, hostname='laptop-1')
    laptop.wait_for('bound')
    lab.wait_for_launches(1)
    assert lab.launches()[0]['params']['ip'] == laptop.address()
    lab.wait_for_cycle_runs(1)

    # Same visit: a renewal, then a release and a new lease within the 15-minute window.
    laptop.renew()
    laptop.wait_for('renew')
    laptop.release()
    laptop.wait_for('deconfig', count=2)
    laptop.renew()
    laptop.wait_for('bound', count=2)
    time.sleep(QUIET_SECONDS)
    kinds = lab.spool_records(laptop.mac)
    assert kinds.count('lease') >= 2 and 'renew' in kinds, kinds  # the events did reach the spool
    assert lab.cycle_runs() == 1, lab.log()[-3000:]
    assert len(lab.launches()) == 1


def test_each_arriving_laptop_gets_its_own_run_and_a_pending_one_is_not_launched_again(lab):
    first = lab.dhcp.run_udhcpc(0, hostname='laptop-1')
    first.wait_for('bound')
    lab.wait_for_launches(1)
    lab.wait_for_cycle_runs(1)
    second = lab.dhcp.run_udhcpc(1, hostname='laptop-2')
    second.wait_for('bound')
    lab.wait_for_launches(2)
    assert [call['params']['ip'] for call in lab.launches()] == [first.address(), second.address()]
    lab.wait_for_cycle_runs(2)


def test_event_driven_run_keeps_the_laptop_in_the_durable_fact_cache(lab, run_ansible):
    laptop = lab.dhcp.run_udhcpc(0, hostname='laptop-1')
    laptop.wait_for('bound')
    lab.wait_for_launches(1)
    lab.wait_for_cycle_runs(1)
    records = lab.remembered_laptops(run_ansible)
    host = 'mac-' + laptop.mac.replace(':', '')
    assert host in records, records
    assert records[host]['pending']['ip'] == laptop.address()
