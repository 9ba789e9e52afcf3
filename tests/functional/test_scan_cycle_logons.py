# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain-controller logons in the cycle (real ansible-playbook, Qualys simulator): logon_events runs on each host of
domain_controllers over a Samba JSON audit log; a machine account's successful logon at an IP a MAC held then links
them, a failed one or a copied DHCP host name links nothing, the logon cursor moves only after the controller stored,
and two MACs of one laptop joined by its machine account are one device: scanned once, both credited."""
from __future__ import annotations

import datetime
import json
from pathlib import Path

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of

A, B, C = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'
HOST = {A: 'mac-027700000a01', B: 'mac-027700000b02', C: 'mac-027700000c03'}
X, Y, Z = '10.77.0.100', '10.77.0.101', '10.77.0.102'


def boot():
    """The running kernel's boot id and uptime: what the DHCP hook stamps its records with."""
    boot_id = Path('/proc/sys/kernel/random/boot_id').read_text().strip()
    return boot_id, float(Path('/proc/uptime').read_text().split()[0])


def lease_record(mac, ip, seconds_ago, hostname='-'):
    """An rs1 lease record the hook would have written ``seconds_ago``, for a one-hour lease."""
    boot_id, uptime = boot()
    return '\nrs1 %s %.2f 4242 kea lease %s %s %s +3600 .\n' % (boot_id, uptime - seconds_ago, mac, ip, hostname)


def samba_logon(account, ip, seconds_ago, ok=True):
    """One line of Samba's JSON authentication audit (the shape tests/unit/.../fixtures/logon/samba-4.17-kdc.json has)."""
    moment = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds_ago)
    return json.dumps({'timestamp': moment.strftime('%Y-%m-%dT%H:%M:%S.%f+0000'), 'type': 'Authentication', 'Authentication': {
        'version': {'major': 1, 'minor': 2}, 'eventId': 4624 if ok else 4625, 'logonType': 3,
        'status': 'NT_STATUS_OK' if ok else 'NT_STATUS_WRONG_PASSWORD', 'remoteAddress': 'ipv4:%s:50123' % ip,
        'serviceDescription': 'Kerberos KDC', 'authDescription': 'ENC-TS Pre-authentication',
        'clientAccount': '%s@ROAM.TEST' % account, 'workstation': None, 'becameAccount': account if ok else None,
        'becameDomain': 'ROAM' if ok else None, 'passwordType': 'aes256-cts-hmac-sha1-96'}}) + '\n'


class Office:
    """A CycleLab whose inventory has one domain controller, dc1, run locally over an audit log this test writes."""

    def __init__(self, root, ansible_env):
        self.lab = CycleLab(root, ansible_env)
        self.audit_log = self.lab.root / 'dc1' / 'roamscan-auth.json'
        self.audit_log.parent.mkdir(parents=True)
        self.audit_log.write_text('')
        self.state_file = self.lab.root / 'dc1' / 'logon_events.json'
        self.lab.add_group_host('domain_controllers', 'dc1', roamscan_logon_paths=[str(self.audit_log)],
                                roamscan_logon_state_file=str(self.state_file))

    def logons(self, *lines):
        with open(self.audit_log, 'a', encoding='utf-8') as handle:
            handle.write(''.join(lines))

    def leases(self, *leases):
        """(mac, ip, hostname): a lease taken ten minutes ago, in the spool and in the lease table."""
        for mac, ip, hostname in leases:
            self.lab.append_spool('dhcp1', lease_record(mac, ip, 600, hostname))
        self.lab.write_leases('dhcp1', [(ip, mac, 3000, hostname) for mac, ip, hostname in leases])


@pytest.fixture
def office(tmp_path, ansible_env):
    return Office(tmp_path / 'lab', ansible_env)


def test_a_machine_logon_links_the_mac_that_held_its_ip_and_a_failed_logon_or_a_copied_host_name_links_nothing(office, qualys_sim):
    # C calls itself like A's laptop and tries LAPTOP01$ with a wrong password; A logs on for real
    office.leases((A, X, 'laptop01'), (C, Z, 'laptop01'))
    office.logons(samba_logon('LAPTOP01$', X, 300), samba_logon('LAPTOP01$', Z, 290, ok=False))
    first = office.lab.run(qualys_sim)
    assert first.returncode == 0, first.stdout[-3000:]
    summary = summary_of(first)
    assert summary['linked'] == {A: ['ad_machine:LAPTOP01$']}
    assert summary['logon_sources_reported'] == ['dc1'] and summary['logons_acknowledged'] == ['dc1']
    records, dummy = office.lab.inventory()
    link = records[HOST[A]]['links'][0]
    assert (link['identity'], link['kind'], link['evidence']['source'], link['evidence']['ip']) == (
        'ad_machine:LAPTOP01$', 'authenticated', 'samba', X)
    assert not records[HOST[C]].get('links')
    assert sorted(summary['launched_targets']) == [X, Z]          # each scanned as itself

    # acknowledged after the store write: the next cycle reads no logon twice, and a new one is read
    second = office.lab.run(qualys_sim)
    assert second.returncode == 0 and summary_of(second)['linked'] == {}
    office.logons(samba_logon('LAPTOP01$', X, 1))
    assert summary_of(office.lab.run(qualys_sim))['linked'] == {A: ['ad_machine:LAPTOP01$']}


def test_a_dc_that_cannot_be_read_is_reported_and_the_cycle_still_scans(office, qualys_sim):
    office.lab.add_group_host('domain_controllers', 'dc1', roamscan_logon_state_file='/nonexistent/dir/logon_events.json')
    office.leases((A, X, 'laptop01'))
    proc = office.lab.run(qualys_sim)
    assert proc.returncode == 0, proc.stdout[-3000:]
    summary = summary_of(proc)
    assert list(summary['logon_sources_not_reported']) == ['dc1'] and summary['logons_acknowledged'] == []
    assert summary['launched_targets'] == [X]


def test_two_macs_of_one_laptop_joined_by_its_machine_account_are_scanned_once_and_both_credited(office, qualys_sim):
    # the laptop's wired and wireless NICs: each gets a lease, each logs on as LAPTOP01$
    office.leases((A, X, 'laptop01'), (B, Y, 'laptop01'))
    office.logons(samba_logon('LAPTOP01$', X, 300), samba_logon('LAPTOP01$', Y, 200))
    first = office.lab.run(qualys_sim)
    assert first.returncode == 0, first.stdout[-3000:]
    assert summary_of(first)['linked'] == {A: ['ad_machine:LAPTOP01$'], B: ['ad_machine:LAPTOP01$']}
    assert len(launch_calls(qualys_sim)) == 1 and len(summary_of(first)['launched_targets']) == 1

    qualys_sim.state.scan_action('*', 'process')
    second = office.lab.run(qualys_sim)
    assert second.returncode == 0, second.stdout[-3000:]
    assert len(summary_of(second)['credited']) == 1 and summary_of(second)['launched'] == []
    records, dummy = office.lab.inventory()
    device = records[HOST[A]]   # one device, named by its smallest MAC, with both MACs credited by the one scan
    scanned = {item['value']: item['last_scanned'] for item in device['identities'] if item['kind'] == 'mac'}
    assert HOST[B] not in records and sorted(scanned) == sorted([A, B])
    assert scanned[A] and scanned[A] == scanned[B] == device['last_scanned']
