# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VPN presence in the cycle with real parts: a real OpenVPN 2.6 server and a real ocserv carrying the hooks the
vpn_hook role deployed, wireguard-go on both ends, real openvpn, openconnect and WireGuard clients, and the cycle
(real ansible-playbook of playbooks/scan_overdue.yml) against the Qualys simulator. Scan results are what a scanner
behind the VPN server would see: the tunnel addresses that answer a ping from the server's namespace.

For each kind: the connect is presence of that identity; one launch carries the tunnel IPs; the scan finishing while
connected credits the identity; a client gone before it finished gets no credit and stays overdue. And a laptop seen
in the office over DHCP (a real Kea with the hook) and later over OpenVPN, linked by the operator's alias list, is
one device: a scan on either path credits it.

The servers are started once for the module; every test has its own controller (store).

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_scan_cycle_vpn_servers.py   (root)
"""
from __future__ import annotations

import ipaddress
import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from cycle_lab import CycleLab, RealKea, finish_scans, launch_call_ips, launch_calls, summary_of
from netns import run, wait_until
from vpn_fixtures import LAPTOP_CN
from vpn_lab import VpnLab, deploy_vpn_hook

pytestmark = [pytest.mark.root, pytest.mark.slow]

OPENVPN_SPOOL = '/var/spool/roamscan'
OCSERV_SPOOL = '/var/spool/roamscan-ocserv'
OPENVPN_STATUS = '/run/openvpn-server/status-roamscan.log'
LEAVING_CN = 'x' * 64            # one of the session's certificates with a plain name
HOME_CN = 'laptop-vpn-02'        # the laptop that also comes to the office
OCSERV_USERS = {'alice': 'alice-pw', 'bob': 'bob-pw'}


class Servers:
    def __init__(self, lab, root, wireguard):
        self.lab = lab
        self.root = root
        self.wireguard = wireguard

    def controller(self, directory, ansible_env, kinds=('openvpn', 'ocserv', 'wireguard')):
        """A controller whose VPN servers are these servers of ``kinds`` (host ``<kind>1``)."""
        places = {'openvpn': {'roamscan_spool_dir': str(self.root) + OPENVPN_SPOOL,
                              'roamscan_vpn_table': str(self.root) + OPENVPN_STATUS},
                  'ocserv': {'roamscan_spool_dir': str(self.root) + OCSERV_SPOOL, 'roamscan_vpn_table': str(self.lab.occtl_socket)},
                  'wireguard': {'roamscan_vpn_table': self.wireguard.server_if}}
        cycle = CycleLab(directory, ansible_env, vpn_servers={'%s1' % kind.replace('wireguard', 'wg'): kind for kind in kinds})
        for kind in kinds:
            cycle.set_server_vars('%s1' % kind.replace('wireguard', 'wg'), **places[kind])
        return cycle

    def route_replies(self, ip):
        """The laptops share the client namespace: what tunnel address ``ip`` sends leaves through its own tunnel
        (source routing), as it would from a laptop of its own."""
        interface = run('ip', '-n', self.lab.client_ns, '-o', 'addr', 'show', 'to', ip).stdout.split()[1]
        table = str(1000 + int(ipaddress.IPv4Address(ip)) % 30000)
        if ('from %s lookup %s' % (ip, table)) not in run('ip', '-n', self.lab.client_ns, 'rule', 'show').stdout:
            run('ip', '-n', self.lab.client_ns, 'rule', 'add', 'from', ip, 'table', table)
        run('ip', '-n', self.lab.client_ns, 'route', 'replace', 'default', 'dev', interface, 'table', table)

    def answering(self, ips):
        """The tunnel addresses that answer a ping from the VPN server's namespace (what a scanner there sees)."""
        return [ip for ip in ips if run('ip', 'netns', 'exec', self.lab.server_ns, 'busybox', 'ping', '-c', '1', '-W', '2', ip,
                                        check=False).returncode == 0]

    def stop_wireguard_peer(self, index):
        """The peer's laptop goes away: its wireguard-go stops (WireGuard itself tells the server nothing)."""
        name = 'wireguard-go-' + self.wireguard.peer_ifs[index]
        next(process for process in self.lab.processes if process.name == name).stop()


@pytest.fixture(scope='module')
def servers(vpn_certificates, run_ansible):
    workdir = Path(tempfile.mkdtemp(prefix='identities-vpn-cycle-'))
    os.chmod(workdir, 0o755)
    root = workdir / 'root'
    try:
        with VpnLab(workdir / 'lab', vpn_certificates) as lab:
            for directory in ('etc/openvpn/server', 'etc/ocserv', 'run/openvpn-server'):
                (root / directory).mkdir(parents=True)
            (root / 'etc/openvpn/server/server.conf').write_text(lab.openvpn_config(extra=('user nobody', 'group nogroup')))
            (root / 'etc/ocserv/ocserv.conf').write_text(lab.ocserv_config(OCSERV_USERS))
            deploy_vpn_hook(run_ansible, workdir, root, {
                'openvpn1': {'vpn_hook_server': 'openvpn', 'vpn_hook_openvpn_status_interval': 1},
                'ocserv1': {'vpn_hook_server': 'ocserv', 'vpn_hook_spool_dir': OCSERV_SPOOL,
                            'vpn_hook_script_dir': '/usr/local/lib/roamscan-ocserv'}})
            lab.start_openvpn(root / 'etc/openvpn/server/server.conf')
            lab.start_ocserv(root / 'etc/ocserv/ocserv.conf')
            yield Servers(lab, root, lab.start_wireguard(peers=2))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(name='kea_workdir')
def kea_workdir_fixture():
    """A directory Kea (running as _kea) can reach, removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix='identities-vpn-kea-'))
    os.chmod(workdir, 0o755)
    yield workdir
    shutil.rmtree(workdir, ignore_errors=True)


def cycle(lab, sim, **extra_vars):
    proc = lab.run(sim, extra_vars=extra_vars)
    assert proc.returncode == 0, proc.stdout[-6000:]
    return summary_of(proc)


def test_each_vpn_kind_is_scanned_down_the_tunnel_and_credited_only_while_connected(servers, ansible_env, qualys_sim, tmp_path):
    lab, wireguard = servers.lab, servers.wireguard
    stays = {'vpn_cert:' + LAPTOP_CN: lab.openvpn_client(LAPTOP_CN), 'vpn_user:alice': lab.openconnect('alice', 'alice-pw')}
    leaves = {'vpn_cert:' + LEAVING_CN: lab.openvpn_client(LEAVING_CN), 'vpn_user:bob': lab.openconnect('bob', 'bob-pw')}
    clients = dict(stays, **leaves)
    ips = {key: client.wait_connected().assigned_ip for key, client in clients.items()}
    for index in (0, 1):
        wireguard.handshake(index)
    peers = [wg_identity(wireguard.peer_public(index)) for index in (0, 1)]
    ips.update(zip(peers, wireguard.peer_ips))
    for ip in ips.values():
        servers.route_replies(ip)
    stays_keys, leaves_keys = list(stays) + [peers[0]], list(leaves) + [peers[1]]
    controller = servers.controller(tmp_path / 'controller', ansible_env)

    first = cycle(controller, qualys_sim)
    # each connect is presence of its identity, and one launch carries every tunnel IP
    records = controller.records()
    for key, ip in ips.items():
        assert records[key]['ip'] == ip and records[key]['mac'] is None and records[key]['pending'], key
    assert sorted(first['acknowledged']) == ['dhcp1', 'ocserv1', 'openvpn1']    # WireGuard keeps no spool
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1 and sorted(launch_call_ips(calls[0])) == sorted(ips.values())

    for key in leaves:
        clients[key].disconnect()
    servers.stop_wireguard_peer(1)
    wait_until(lambda: all(controller_saw_end(servers, key) for key in leaves), 30, what='the disconnect records')
    alive = servers.answering(sorted(ips.values()))
    assert sorted(alive) == sorted(ips[key] for key in stays_keys)      # the scanner sees who is still there
    finish_scans(qualys_sim, alive)

    credited = []
    for dummy in range(3):    # a session table read before the scan was seen finished proves it until then only
        summary = cycle(controller, qualys_sim)
        credited += summary['credited']
        if sorted(credited) == sorted(stays_keys):
            break
    assert sorted(credited) == sorted(stays_keys)
    records = controller.records()
    for key in stays_keys:
        assert records[key]['last_scanned'], key
    for key in leaves_keys:
        assert records[key]['last_scanned'] is None, key                   # no credit: still overdue
    for key in leaves:
        assert records[key]['lease_state'] == 'released', key             # the disconnect ended the holding
    # no identity that left is launched again (WireGuard has no disconnect: its peer stays "seen" until its keys expire)
    relaunched = [ip for call in launch_calls(qualys_sim)[1:] for ip in launch_call_ips(call)]
    assert not set(relaunched) & {ips[key] for key in stays_keys + list(leaves)}
    for key in stays:
        clients[key].disconnect()


def wg_identity(public_key):
    """The identity key of a WireGuard peer: its key as the reader encodes it (``%`` + hex when it starts with ``+``
    or ``/``)."""
    plain = re.fullmatch(r'[A-Za-z0-9][A-Za-z0-9._@$+=/:-]{0,127}', public_key)
    return 'wg_key:' + (public_key if plain else '%' + public_key.encode().hex())


def controller_saw_end(servers, key):
    """The disconnect record of ``key`` is in its server's spool (the hook wrote it)."""
    kind, dummy, value = key.partition(':')
    spool = servers.root / (OPENVPN_SPOOL if kind == 'vpn_cert' else OCSERV_SPOOL).lstrip('/')
    text = b''.join(path.read_bytes() for path in spool.glob('*') if path.is_file() and not path.name.startswith('.'))
    return any(b' disconnect %s %s ' % (kind.encode(), value.encode()) in line for line in text.split(b'\n'))


def test_a_laptop_in_the_office_and_at_home_is_one_device_credited_by_a_scan_on_either_path(
        servers, ansible_env, qualys_sim, kea_workdir):
    lab = servers.lab
    # only the OpenVPN server: the other test's WireGuard peer stays "seen" until its keys expire
    controller = servers.controller(kea_workdir / 'controller', ansible_env, kinds=('openvpn',))
    with RealKea(controller, kea_workdir / 'dhcp', clients=2, namespace_prefix='rsid') as kea:
        alice_office = kea.connect(0, 'alice-laptop', name='alice-office')
        bob_office = kea.connect(1, 'bob-laptop', name='bob-office')
        aliases = [{'device': 'alice', 'identities': ['mac:' + alice_office.mac, 'vpn_cert:' + HOME_CN]},
                   {'device': 'bob', 'identities': ['mac:' + bob_office.mac, 'vpn_cert:' + LAPTOP_CN]}]
        settings = {'roamscan_device_aliases': aliases}
        # bob left the office (his lease was released) and works from home over OpenVPN
        bob_office.release()
        wait_until(lambda: kea_lease_state(kea, bob_office.mac) != 'active', 20, what="bob's release")
        bob_home = lab.openvpn_client(LAPTOP_CN).wait_connected()
        servers.route_replies(bob_home.assigned_ip)

        first = cycle(controller, qualys_sim, **settings)
        calls = launch_calls(qualys_sim)
        assert len(calls) == 1 and sorted(launch_call_ips(calls[0])) == sorted([alice_office.address(), bob_home.assigned_ip])
        assert first['launched_targets']
        alive = kea.answering([alice_office.address()]) + servers.answering([bob_home.assigned_ip])
        assert len(alive) == 2
        finish_scans(qualys_sim, alive)

        # alice goes home: the office lease is released, the tunnel comes up
        second = cycle(controller, qualys_sim, **settings)
        # the office path at once (its lease); bob's tunnel scan as soon as a session table read after the scan
        # finished still shows his session: this cycle or the next, depending on when the status file was rewritten
        assert alice_office.mac in second['credited'] and set(second['credited']) <= {alice_office.mac, 'vpn_cert:' + LAPTOP_CN}
        alice_office.release()
        alice_home = lab.openvpn_client(HOME_CN).wait_connected()
        third = cycle(controller, qualys_sim, **settings)
        assert sorted(second['credited'] + third['credited']) == sorted([alice_office.mac, 'vpn_cert:' + LAPTOP_CN])   # each once
        records = controller.records()
        # bob: the scan down the tunnel credits his office MAC too; alice: the office scan covers her tunnel
        assert records[bob_office.mac]['last_scanned'] == records['vpn_cert:' + LAPTOP_CN]['last_scanned']
        assert records[bob_office.mac]['last_scan_via'] == 'vpn_cert:' + LAPTOP_CN
        assert records['vpn_cert:' + HOME_CN]['ip'] == alice_home.assigned_ip
        assert records['vpn_cert:' + HOME_CN]['pending'] is None and third['launched'] == []
        assert len(launch_calls(qualys_sim)) == 1                          # one device each: nothing scanned twice
        for client in (alice_home, bob_home):
            client.disconnect()


def kea_lease_state(kea, mac):
    """The state of ``mac``'s newest row in the real Kea's lease file (``active`` or what ended it)."""
    rows = [line.split(',') for line in kea.lease_file.read_text().splitlines()[1:] if line]
    mine = [row for row in rows if row[1] == mac]
    return 'active' if mine and mine[-1][3] != '0' and mine[-1][9] == '0' else 'ended'
