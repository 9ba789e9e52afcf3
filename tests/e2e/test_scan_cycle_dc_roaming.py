# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: a laptop's machine account across its network paths, with real parts. The session's real Samba AD DC
(audit by the dc_audit role) is a host of domain_controllers; a real Kea with the DHCP hook serves the office; a real
OpenVPN 2.6 server with the hook the vpn_hook role deployed (spool + status file) serves the laptop at home; the cycle
is the real ansible-playbook of roamscan.qualys.scan_overdue against the Qualys simulator.

- The laptop leases in the office and runs ``kinit 'LAPTOP$@REALM'``; later, at home, the same laptop namespace
  connects with a real openvpn client and runs kinit again, the KDC seeing its tunnel IP. Its MAC, its machine account
  and its VPN certificate are one device: launched once, credited by the office scan, not launched at the tunnel IP.
- IP reuse: laptop A leases X and leaves, laptop B gets X; each machine account's logon links the MAC that held X at
  the moment of the logon, never the other, although one cycle reads them all after the IP changed hands.

Hook records count time as boot time + uptime in whole seconds, up to 2 s before the wall clock; logons and status
files count wall-clock whole seconds. Each before/after premise below waits on the clock for that gap.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_scan_cycle_dc_roaming.py   (root)
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from cycle_lab import CycleLab, RealKea, finish_scans, launch_call_ips, launch_calls, summary_of
from netns import run, wait_until
from samba_dc import REALM
from vpn_fixtures import LAPTOP_CN
from vpn_lab import OPENVPN_NET, VpnLab, deploy_vpn_hook

pytestmark = [pytest.mark.root, pytest.mark.slow]

PREFIX = 'dcvpn'
OPENVPN_SPOOL = '/var/spool/roamscan'                       # the vpn_hook role's defaults, under its path prefix
OPENVPN_STATUS = '/run/openvpn-server/status-roamscan.log'
VPN_SERVER_ON_DC_SIDE = '10.89.0.6'
HOOK_CLOCK_LAG = 2.0   # a hook record's time is at most this much before the wall clock


class Office:
    """A real Kea (its own controller) whose server namespace routes between its laptops and the DC (dc1)."""

    def __init__(self, dc, kea, router):
        self.dc, self.kea = dc, kea
        dc.serve_office(kea.net.server_ns, kea.net.prefix + '.0/24', router)
        kea.lab.add_group_host('domain_controllers', 'dc1', ansible_python_interpreter=str(dc.python_wrapper(kea.lab.python)),
                               roamscan_logon_paths=[str(dc.audit_log)],
                               roamscan_logon_state_file=str(dc.state_dir / ('%s-%s.json' % (PREFIX, kea.net.token))))

    def connect_laptop(self, index, hostname, *extra):
        laptop = self.kea.connect(index, hostname, *extra)
        run('ip', '-n', laptop.namespace, 'route', 'replace', self.dc.prefix + '.0/24', 'via', self.kea.net.server_ip)
        return laptop

    def kinit(self, laptop_namespace, account, password):
        """kinit as machine account ``account``$; True when the KDC accepted it, once the audit log has the logon."""
        proc = self.dc.kinit(laptop_namespace, '%s$@%s' % (account, REALM), password)
        if proc.returncode == 0:
            wait_until(lambda: self.logon_addresses(account), 60, what='the logon of %s$ in the audit log' % account)
        return proc.returncode == 0

    def logon_addresses(self, account):
        """The client addresses (``ipv4:IP:port``) of the successful logons of ``account``$ in the DC's audit log."""
        found = []
        for line in self.dc.audit_log.read_text(errors='replace').splitlines():
            try:
                auth = json.loads(line).get('Authentication') or {}
            except ValueError:
                continue
            if auth.get('becameAccount') == account + '$' and auth.get('status') == 'NT_STATUS_OK':
                found.append(auth.get('remoteAddress'))
        return found

    def cycle(self, sim):
        proc = self.kea.lab.run(sim)
        assert proc.returncode == 0, (proc.stdout + proc.stderr)[-6000:]
        return summary_of(proc)


@pytest.fixture(name='office_lab')
def office_lab_fixture(samba_dc, ansible_env):
    """office_lab(router, clients, vpn_servers=None): an Office with a controller of its own, removed afterwards."""
    with contextlib.ExitStack() as stack:
        def make(router, clients, vpn_servers=None):
            workdir = Path(tempfile.mkdtemp(prefix='roamscan-%s-' % PREFIX))
            os.chmod(workdir, 0o755)   # Kea runs as _kea and must reach its files below
            stack.callback(shutil.rmtree, workdir, ignore_errors=True)
            kea = stack.enter_context(RealKea(CycleLab(workdir / 'controller', ansible_env, vpn_servers=vpn_servers),
                                              workdir / 'dhcp', clients=clients, namespace_prefix=PREFIX))
            return Office(samba_dc, kea, router)
        yield make


class HomeVpn:
    """The VPN lab and the path prefix its server's hook files live under."""

    def __init__(self, lab, root):
        self.lab, self.root = lab, root
        self.status_file = root / OPENVPN_STATUS.lstrip('/')


@pytest.fixture(name='vpn_server', scope='module')
def vpn_server_fixture(samba_dc, vpn_certificates, run_ansible):
    """A real OpenVPN server (the vpn_hook role's hook and status file every second) that pushes the DC's network and
    routes it: laptops at home reach the KDC through the tunnel, from their tunnel IP."""
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-%s-vpn-' % PREFIX))
    os.chmod(workdir, 0o755)
    root = workdir / 'root'
    try:
        with VpnLab(workdir / 'lab', vpn_certificates, namespace_prefix=PREFIX) as lab:
            for directory in ('etc/openvpn/server', 'run/openvpn-server'):
                (root / directory).mkdir(parents=True)
            config = root / 'etc/openvpn/server/server.conf'
            config.write_text(lab.openvpn_config(extra=('user nobody', 'group nogroup',
                                                        'push "route %s.0 255.255.255.0"' % samba_dc.prefix)))
            deploy_vpn_hook(run_ansible, workdir, root, {'openvpn1': {'vpn_hook_server': 'openvpn',
                                                                      'vpn_hook_openvpn_status_interval': 1}})
            lab.start_openvpn(config)
            samba_dc.serve_office(lab.server_ns, OPENVPN_NET + '.0/24', VPN_SERVER_ON_DC_SIDE)
            yield HomeVpn(lab, root)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def status_time(path):
    """The TIME (epoch) of an OpenVPN status file, or 0 while there is none."""
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return 0
    return next((int(line.split('\t')[2]) for line in lines if line.startswith('TIME\t')), 0)


def device_of(records, key):
    """The one device of the inventory whose identities include ``key`` (``kind:value``)."""
    found = [(host, view) for host, view in records.items()
             if key in ('%s:%s' % (item['kind'], item['value']) for item in view.get('identities') or [])]
    assert len(found) == 1, (key, sorted(records))
    return found[0]


def test_a_laptop_in_the_office_then_over_openvpn_is_one_device_by_its_machine_account_scanned_once_and_credited(
        office_lab, vpn_server, qualys_sim):
    office = office_lab('10.89.0.5', 1, vpn_servers={'openvpn1': 'openvpn'})
    office.kea.lab.set_server_vars('openvpn1', roamscan_spool_dir=str(vpn_server.root) + OPENVPN_SPOOL,
                                   roamscan_vpn_table=str(vpn_server.root) + OPENVPN_STATUS)
    office.dc.create_computer('DCVPNLAPTOP', 'Dcvpn-Laptop-Secret')

    # in the office: a lease from Kea, then the machine account's logon from it
    laptop = office.connect_laptop(0, 'dcvpnlaptop')
    office_ip = laptop.address()
    assert office.kinit(laptop.namespace, 'DCVPNLAPTOP', 'Dcvpn-Laptop-Secret')
    first = office.cycle(qualys_sim)
    assert first['linked'] == {laptop.mac: ['ad_machine:DCVPNLAPTOP$']}
    assert first['logon_sources_reported'] == ['dc1'] and first['logons_acknowledged'] == ['dc1']
    assert [launch_call_ips(call) for call in launch_calls(qualys_sim)] == [[office_ip]]

    # the scan finds it in the office; the next cycle reads the lease (held to its expiry) after the scan's end
    alive = office.kea.answering([office_ip])
    assert alive == [office_ip]
    finish_scans(qualys_sim, alive)
    second = office.cycle(qualys_sim)
    assert second['credited'] == [laptop.mac] and second['launched'] == []

    # the laptop leaves the office (DHCPRELEASE, unplugged) and works from home over OpenVPN
    laptop.release()
    laptop.wait_for('deconfig', count=2)
    laptop.stop()
    run('ip', '-n', laptop.namespace, 'link', 'set', 'eth0', 'down')
    vpn_server.lab.plug_home(laptop.namespace)
    tunnel = vpn_server.lab.openvpn_client(LAPTOP_CN, namespace=laptop.namespace).wait_connected(timeout=60)
    tunnel_ip = tunnel.assigned_ip
    assert tunnel_ip and tunnel_ip.startswith(OPENVPN_NET + '.')
    assert office.kinit(laptop.namespace, 'DCVPNLAPTOP', 'Dcvpn-Laptop-Secret')
    logged_on = time.time()
    assert [item.rsplit(':', 1)[0] for item in office.logon_addresses('DCVPNLAPTOP')] == [
        'ipv4:' + office_ip, 'ipv4:' + tunnel_ip]                  # the KDC saw the office lease, then the tunnel IP
    # the session table the cycle reads is rewritten after the logon's second: it proves the session then
    wait_until(lambda: status_time(vpn_server.status_file) > int(logged_on), 60, what='an OpenVPN status file written after the logon')

    third = office.cycle(qualys_sim)
    assert third['linked'] == {'vpn_cert:' + LAPTOP_CN: ['ad_machine:DCVPNLAPTOP$']}
    records = office.kea.lab.records()
    assert third['launched'] == [] and len(launch_calls(qualys_sim)) == 1, (third, records)   # credited: not at the tunnel IP
    link = records['vpn_cert:' + LAPTOP_CN]['links'][0]
    assert (link['evidence']['source'], link['evidence']['host'], link['evidence']['ip']) == ('samba', 'dc1', tunnel_ip)
    assert records['vpn_cert:' + LAPTOP_CN]['ip'] == tunnel_ip and records[laptop.mac]['lease_state'] == 'released'

    inventory, groups = office.kea.lab.inventory()
    host, device = device_of(inventory, 'mac:' + laptop.mac)
    assert sorted('%s:%s' % (item['kind'], item['value']) for item in device['identities']) == sorted(
        ['mac:' + laptop.mac, 'ad_machine:DCVPNLAPTOP$', 'vpn_cert:' + LAPTOP_CN])
    assert device_of(inventory, 'vpn_cert:' + LAPTOP_CN)[0] == host
    assert device['last_scanned'] and host not in groups.get('roaming_overdue', set())
    tunnel.disconnect()


def test_a_logon_at_a_reused_ip_links_the_mac_holding_it_at_that_moment_never_the_earlier_holder(office_lab, qualys_sim):
    office = office_lab('10.89.0.7', 2)
    office.dc.create_computer('DCVPNREUSEA', 'Dcvpn-Reuse-A-Secret')
    office.dc.create_computer('DCVPNREUSEB', 'Dcvpn-Reuse-B-Secret')
    earlier = office.connect_laptop(0, 'dcvpnreusea')
    address = earlier.address()
    first = office.cycle(qualys_sim)                   # the controller knows A at X
    assert first['linked'] == {} and office.kea.lab.records()[earlier.mac]['ip'] == address

    # A logs on as its own account, then leaves; B asks Kea for that very address and gets it
    assert office.kinit(earlier.namespace, 'DCVPNREUSEA', 'Dcvpn-Reuse-A-Secret')
    logged_on = time.time()
    wait_until(lambda: time.time() >= logged_on + HOOK_CLOCK_LAG, 30, what="B's lease later than A's logon")
    earlier.release()
    earlier.wait_for('deconfig', count=2)
    earlier.stop()
    later = office.connect_laptop(1, 'dcvpnreuseb', '-r', address)
    assert later.address() == address
    bound = time.time()
    wait_until(lambda: int(time.time()) > int(bound), 30, what="B's logon in a second after A's release")
    # at X now: B fails as A's account (it does not have A's secret) and logs on as its own
    assert not office.kinit(later.namespace, 'DCVPNREUSEA', 'not-the-secret')
    assert office.kinit(later.namespace, 'DCVPNREUSEB', 'Dcvpn-Reuse-B-Secret')

    # one cycle reads both logons, A's release and B's lease
    second = office.cycle(qualys_sim)
    assert second['linked'] == {earlier.mac: ['ad_machine:DCVPNREUSEA$'], later.mac: ['ad_machine:DCVPNREUSEB$']}
    records = office.kea.lab.records()
    a_record, b_record = records[earlier.mac], records[later.mac]
    assert a_record['lease_state'] == 'released' and a_record['ip_history'][-1]['ip'] == address
    assert [link['identity'] for link in a_record['links']] == ['ad_machine:DCVPNREUSEA$']
    assert [link['identity'] for link in b_record['links']] == ['ad_machine:DCVPNREUSEB$']
    assert a_record['links'][0]['evidence']['time'] <= a_record['ip_history'][-1]['to'] <= b_record['held_since']
    assert b_record['links'][0]['evidence']['ip'] == address
    assert b_record['held_since'] <= b_record['links'][0]['evidence']['time']
    inventory, dummy = office.kea.lab.inventory()
    assert device_of(inventory, 'mac:' + earlier.mac)[0] != device_of(inventory, 'mac:' + later.mac)[0]
