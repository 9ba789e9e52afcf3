# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: the real cycle (ansible-playbook against the Qualys simulator) with a real Kea carrying the hook and
the session's real Samba AD DC (audit by the dc_audit role) as a host of domain_controllers. Laptops lease from Kea,
then authenticate to the DC over the routed office network with kinit. A machine account's logon from the IP a MAC
held links them; a wrong password links nothing; a laptop that copies another's DHCP host name is not linked.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_scan_cycle_dc.py   (root)
"""
from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from cycle_lab import CycleLab, RealKea, summary_of
from netns import run, wait_until
from samba_dc import REALM

pytestmark = [pytest.mark.root, pytest.mark.slow]

ROUTER_ON_DC_SIDE = '10.89.0.3'


class Office:
    """The Kea lab's server namespace routes between the laptops and the DC; the DC is dc1 of the cycle's inventory."""

    def __init__(self, dc, kea, workdir):
        self.dc, self.kea, self.workdir = dc, kea, Path(workdir)
        kea.lab.add_group_host('domain_controllers', 'dc1', ansible_python_interpreter=str(dc.python_wrapper(kea.lab.python)),
                               roamscan_logon_paths=[str(dc.audit_log)],
                               roamscan_logon_state_file=str(dc.state_dir / ('cycle-logons-%s.json' % secrets.token_hex(3))))

    def connect_laptop(self, index, hostname):
        laptop = self.kea.connect(index, hostname)
        run('ip', '-n', laptop.namespace, 'route', 'replace', self.dc.prefix + '.0/24', 'via', self.kea.net.server_ip)
        return laptop

    def kinit(self, laptop, account, password):
        """kinit ``account``$ from the laptop's namespace against the DC's KDC; True when the KDC accepted it."""
        return self.dc.kinit(laptop.namespace, '%s$@%s' % (account, REALM), password).returncode == 0


@pytest.fixture(name='office', scope='module')
def office_fixture(samba_dc, ansible_env):
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-dc-cycle-'))
    os.chmod(workdir, 0o755)   # Kea runs as _kea and must reach its files below
    try:
        with RealKea(CycleLab(workdir / 'controller', ansible_env), workdir / 'dhcp', clients=3, namespace_prefix='dccy') as kea:
            samba_dc.serve_office(kea.net.server_ns, kea.net.prefix + '.0/24', ROUTER_ON_DC_SIDE)
            yield Office(samba_dc, kea, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_a_machine_account_kinit_from_a_leased_laptop_links_its_mac_and_nothing_else_links(office, qualys_sim):
    office.dc.create_computer('CYCLELAPTOP1', 'Cycle-Laptop1-Secret')
    office.dc.create_computer('CYCLELAPTOP2', 'Cycle-Laptop2-Secret')
    owner = office.connect_laptop(0, 'cyclelaptop1')
    guesser = office.connect_laptop(1, 'cyclelaptop2')
    copycat = office.connect_laptop(2, 'cyclelaptop1')   # names itself like the owner's laptop
    assert office.kinit(owner, 'CYCLELAPTOP1', 'Cycle-Laptop1-Secret')
    assert not office.kinit(guesser, 'CYCLELAPTOP2', 'not-the-password')
    assert not office.kinit(copycat, 'CYCLELAPTOP1', 'a-guess')
    wait_until(lambda: office.dc.audit_log.read_bytes().count(b'CYCLELAPTOP') >= 3, 10, what='the three logons in the audit log')

    cycle = office.kea.lab.run(qualys_sim)
    assert cycle.returncode == 0, (cycle.stdout + cycle.stderr)[-4000:]
    summary = summary_of(cycle)
    assert summary['logon_sources_reported'] == ['dc1'] and summary['logons_acknowledged'] == ['dc1']
    assert summary['linked'] == {owner.mac: ['ad_machine:CYCLELAPTOP1$']}
    records, dummy = office.kea.lab.inventory()
    by_mac = {record['mac']: record for record in records.values()}
    link = by_mac[owner.mac]['links'][0]
    assert (link['evidence']['source'], link['evidence']['host'], link['evidence']['ip']) == ('samba', 'dc1', owner.address())
    assert not by_mac[guesser.mac].get('links') and not by_mac[copycat.mac].get('links')
    assert sorted(summary['launched_targets']) == sorted(laptop.address() for laptop in (owner, guesser, copycat))

    # acknowledged once stored: the next cycle reads the logons after it, none twice
    assert office.kinit(owner, 'CYCLELAPTOP1', 'Cycle-Laptop1-Secret')
    again = office.kea.lab.run(qualys_sim, extra_vars={'roamscan_max_active_scans': 2})
    assert again.returncode == 0, (again.stdout + again.stderr)[-4000:]
    assert summary_of(again)['linked'] == {owner.mac: ['ad_machine:CYCLELAPTOP1$']}
    assert len(office.kea.lab.inventory()[0][next(k for k, r in records.items() if r['mac'] == owner.mac)]['links']) == 1
