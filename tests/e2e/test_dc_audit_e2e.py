# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: a real Samba AD DC (audit configured by the dc_audit role) and a real Kea with the
roamscan hook. A laptop gets its lease from Kea, then authenticates to the DC as its machine
account over the routed office network; logon_events (run by ansible on the DC) reports
LAPTOP01$ at the leased IP, and lease_events on the DHCP server holds the laptop's MAC at that IP
at that moment. A wrong password yields nothing; a real logrotate copytruncate loses nothing.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_dc_audit_e2e.py   (root)
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from cycle_lab import CycleLab, RealKea
from netns import run, wait_until
from samba_dc import REALM

pytestmark = [pytest.mark.root, pytest.mark.slow]

ROUTER_ON_DC_SIDE = '10.89.0.2'


class Office:
    """The Kea lab's server namespace routes between the laptops (10.77.0.0/24) and the DC's network."""

    def __init__(self, dc, kea, workdir):
        self.dc = dc
        self.kea = kea
        self.workdir = Path(workdir)
        self.state_file = dc.state_dir / ('logon_events-%s.json' % secrets.token_hex(3))
        self.cursor = None
        inventory = self.workdir / 'dc-inventory.ini'
        inventory.write_text('[dcs]\ndc1 ansible_connection=local ansible_python_interpreter=%s\n'
                             % dc.python_wrapper(sys.executable))
        self.dc_inventory = str(inventory)

    def connect_laptop(self, index):
        laptop = self.kea.connect(index)
        run('ip', '-n', laptop.namespace, 'route', 'replace', self.dc.prefix + '.0/24', 'via', self.kea.net.server_ip)
        return laptop

    def kinit(self, laptop, principal, password):
        """kinit from the laptop's namespace against the DC's KDC; returns the CompletedProcess."""
        return self.dc.kinit(laptop.namespace, principal, password)

    def _module(self, module, options, run_playbook):
        """Run ``module`` with ``options`` through ansible-playbook; returns its registered result."""
        result_file = self.workdir / ('%s.json' % module)
        playbook = self.workdir / ('%s.yml' % module)
        playbook.write_text(json.dumps([{
            'hosts': 'all', 'gather_facts': False,
            'tasks': [{'roamscan.qualys.%s' % module: options, 'register': 'result'},
                      {'ansible.builtin.copy': {'content': '{{ result | to_json }}', 'dest': str(result_file), 'mode': '0600'}}],
        }]))
        proc = run_playbook(str(playbook))
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
        return json.loads(result_file.read_text())

    def logon_events(self, run_ansible):
        """logon_events on the DC (inside its namespace, so the DC's own addresses are known), acknowledging
        what the previous call returned in the same run, as the cycle does."""
        options = {'paths': [str(self.dc.audit_log)], 'state_file': str(self.state_file), 'ack': self.cursor}
        result = self._module('logon_events', options,
                              lambda playbook: run_ansible('ansible-playbook', '-i', self.dc_inventory, playbook))
        self.cursor = result['cursor']
        return result

    def lease_events(self):
        """lease_events on the DHCP server, from the cycle's own inventory."""
        return self._module('lease_events', {'server': 'kea', 'spool_dir': str(self.kea.prefix_dir) + self.kea.SPOOL_DIR,
                                             'lease_file': str(self.kea.lease_file)},
                            lambda playbook: self.kea.lab.run(playbook=playbook))


@pytest.fixture(name='office', scope='module')
def office_fixture(samba_dc, ansible_env):
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-dc-e2e-'))
    os.chmod(workdir, 0o755)   # Kea runs as _kea and must reach its files below
    try:
        with RealKea(CycleLab(workdir / 'controller', ansible_env), workdir / 'dhcp', clients=3) as kea:
            samba_dc.serve_office(kea.net.server_ns, kea.net.prefix + '.0/24', ROUTER_ON_DC_SIDE)
            yield Office(samba_dc, kea, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def successful_logons(log, account):
    """Lines of a Samba audit log that record a successful logon of ``account``."""
    return sum(1 for line in log.read_bytes().splitlines()
               if ('"becameAccount": "%s"' % account).encode() in line and b'"NT_STATUS_OK"' in line)


def machine_observations(result, account):
    return [o for o in result['observations'] if o['identity'] == {'kind': 'ad_machine', 'value': account}]


def test_machine_kinit_from_a_leased_ip_is_an_ad_machine_observation_the_lease_spool_can_link(office, run_ansible):
    office.dc.create_computer('LAPTOP01', 'Laptop01-Secret')
    office.logon_events(run_ansible)

    laptop = office.connect_laptop(0)
    ip = laptop.address()
    wrong = office.kinit(laptop, 'LAPTOP01$@%s' % REALM, 'not-the-password')
    assert wrong.returncode != 0
    right = office.kinit(laptop, 'LAPTOP01$@%s' % REALM, 'Laptop01-Secret')
    assert right.returncode == 0, right.stderr

    result = office.logon_events(run_ansible)
    seen = machine_observations(result, 'LAPTOP01$')
    assert seen, result
    assert {(o['source']['kind'], o['event'], o['ip'], o['authority']) for o in seen} == {('samba', 'seen', ip, 'log')}
    assert result['ignored']['reasons'].get('failed', 0) >= 1        # the wrong password never counts
    assert result['skipped_lines'] == {'count': 0, 'reasons': {}}

    # the evidence a linking step uses: the DHCP spool holds this MAC at this IP at that moment
    leases = office.lease_events()
    holding = [e for e in leases['events'] if e['mac'] == laptop.mac and e['ip'] == ip and e['kind'] == 'lease']
    assert holding, leases['events']
    logon_time = seen[0]['time']
    assert holding[0]['time'] <= logon_time <= holding[0]['lease_expires']

    # acknowledged logons are never returned again
    assert machine_observations(office.logon_events(run_ansible), 'LAPTOP01$') == []


def test_only_a_wrong_password_yields_no_observation(office, run_ansible):
    office.dc.create_computer('LAPTOP02', 'Laptop02-Secret')
    laptop = office.connect_laptop(1)
    office.logon_events(run_ansible)
    assert office.kinit(laptop, 'LAPTOP02$@%s' % REALM, 'wrong-one').returncode != 0
    wait_until(lambda: b'LAPTOP02' in office.dc.audit_log.read_bytes(), 10, what='the failed logon in the audit log')
    result = office.logon_events(run_ansible)
    assert result['observations'] == []
    assert result['ignored']['reasons'] == {'failed': result['ignored']['count']} and result['ignored']['count'] >= 1


def test_logrotate_copytruncate_while_samba_writes_loses_no_logon(office, run_ansible):
    office.dc.create_computer('LAPTOP03', 'Laptop03-Secret')
    laptop = office.connect_laptop(2)
    office.logon_events(run_ansible)
    assert office.kinit(laptop, 'LAPTOP03$@%s' % REALM, 'Laptop03-Secret').returncode == 0
    wait_until(lambda: b'LAPTOP03' in office.dc.audit_log.read_bytes(), 10, what='the logon in the audit log')
    rule = office.dc.target / 'etc' / 'logrotate.d' / 'roamscan-samba-audit'   # written by the dc_audit role
    run('logrotate', '--force', '--state', str(office.workdir / 'logrotate.status'), str(rule))
    rotated = Path(str(office.dc.audit_log) + '.1')
    assert b'LAPTOP03' in rotated.read_bytes() and b'LAPTOP03' not in office.dc.audit_log.read_bytes()
    assert office.kinit(laptop, 'LAPTOP03$@%s' % REALM, 'Laptop03-Secret').returncode == 0
    wait_until(lambda: b'LAPTOP03' in office.dc.audit_log.read_bytes(), 10, what='the next logon in the truncated log')

    result = office.logon_events(run_ansible)
    seen = machine_observations(result, 'LAPTOP03$')
    copied, written = successful_logons(rotated, 'LAPTOP03$'), successful_logons(office.dc.audit_log, 'LAPTOP03$')
    assert len(seen) == copied + written and copied and written   # both kinits, from the copy and the truncated file
    assert {o['ip'] for o in seen} == {laptop.address()}
    assert result['rotation_gaps'] == [] and result['skipped_lines']['count'] == 0
