# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A Kea high-availability pair for tests (root only): two real kea-dhcp4 servers with libdhcp_ha.so (hot-standby
or load-balancing) and libdhcp_lease_cmds.so on one laptop segment, the peers talking over their own
kea-ctrl-agent, each carrying the roamscan hook deployed by the dhcp_hook role under its own path prefix, each a
DHCP server of a CycleLab (dhcp1 = server1, the primary; dhcp2 = server2).

    with KeaHaPair(CycleLab(root, env, servers=('dhcp1', 'dhcp2')), workdir, 'hot-standby') as pair:
        laptop = pair.connect(0); pair.kill('server1'); pair.wait_for_state('server2', 'partner-down')

Nothing leaves the namespaces: server1 owns the bridge (``<prefix>.1``), server2 sits on it through a veth
(``<prefix>.2``), the laptops are udhcpc clients on the bridge. Every process is stopped by PID and every namespace
deleted on exit.
"""
from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from netns import KEA_HOOKS_DIR, DhcpLab, kea_dhcp4_config, netns_python, run, wait_until

HA_PORT = 46080          # each peer's kea-ctrl-agent, on its own address inside the lab
SPOOL_DIR = '/var/spool/roamscan'
CONFIG_FILE = '/etc/kea/kea-dhcp4.conf'
ROLES = {'hot-standby': ('primary', 'standby'), 'load-balancing': ('primary', 'secondary')}
STATES = {'hot-standby': 'HOT-STANDBY', 'load-balancing': 'LOAD-BALANCING', 'partner-down': 'PARTNER-DOWN'}


class HaSegment(DhcpLab):
    """A DhcpLab with a second server namespace ``...-s2`` on the same bridge (``<prefix>.2`` on its eth0)."""

    def __init__(self, workdir, clients=2, prefix='10.78.0', namespace_prefix='ha'):
        super().__init__(workdir, clients=clients, prefix=prefix, namespace_prefix=namespace_prefix)
        self.second_ns = '%s%s-s2' % (namespace_prefix, self.token)
        self.second_ip = prefix + '.2'

    def __enter__(self):
        super().__enter__()
        try:
            self.plug(self.second_ns, 'ps2')
            run('ip', '-n', self.second_ns, 'addr', 'add', self.second_ip + '/24', 'dev', 'eth0')
            wait_until(lambda: 'state UP' in run('ip', '-n', self.second_ns, '-o', 'link', 'show', 'eth0').stdout, 10,
                       what='server2 eth0 up')
        except BaseException:
            self.close()
            raise
        return self

    def namespaces(self):
        return super().namespaces() + [self.second_ns]


@dataclass
class Peer:
    """One server of the pair: its HA name, the cycle's inventory host, where it runs and keeps its files."""
    name: str
    host: str
    role: str
    namespace: str
    ip: str
    interface: str
    root: Path
    lease_file: Path
    socket: Path
    processes: dict = field(default_factory=dict)

    @property
    def spool_dir(self):
        return Path(str(self.root) + SPOOL_DIR)

    def spool_text(self):
        """Every spool file's text (current and rotated segments)."""
        if not self.spool_dir.is_dir():
            return ''
        return ''.join(path.read_text(errors='replace') for path in sorted(self.spool_dir.iterdir()) if path.is_file())

    def leases(self):
        """``{mac: ip}`` of the rows of this peer's lease file with a lifetime (the last row of an address wins)."""
        found = {}
        if self.lease_file.exists():
            for line in self.lease_file.read_text().splitlines()[1:]:
                cells = line.split(',')
                if len(cells) > 4 and cells[1]:
                    found = {mac: ip for mac, ip in found.items() if ip != cells[0]}
                    if cells[3] != '0':
                        found[cells[1]] = cells[0]
        return found


class KeaHaPair:
    """Servers ``dhcp1``/``dhcp2`` of ``lab`` (a CycleLab) played by a Kea HA pair in ``mode``."""

    def __init__(self, lab, workdir, mode, clients=2, valid_lifetime=20):
        assert mode in ROLES, mode
        self.lab = lab
        self.mode = mode
        self.valid_lifetime = valid_lifetime
        self.net = HaSegment(Path(workdir) / 'net', clients=clients)
        net = self.net
        first, second = ROLES[mode]
        self.peers = [
            Peer('server1', 'dhcp1', first, net.server_ns, net.server_ip, 'br0', Path(workdir) / 'root-server1',
                 net.workdir / 'kea-leases4-server1.csv', net.workdir / 'server1.sock'),
            Peer('server2', 'dhcp2', second, net.second_ns, net.second_ip, 'eth0', Path(workdir) / 'root-server2',
                 net.workdir / 'kea-leases4-server2.csv', net.workdir / 'server2.sock'),
        ]

    def peer(self, name):
        return next(peer for peer in self.peers if name in (peer.name, peer.host))

    # -- lifecycle
    def __enter__(self):
        self.net.__enter__()
        try:
            shutil.chown(self.net.workdir, user='_kea')   # Kea and its agents write leases, sockets, locks and pids there
            for peer in self.peers:
                (Path(str(peer.root) + CONFIG_FILE)).parent.mkdir(parents=True)
                self.lab.set_server_vars(
                    peer.host, roamscan_dhcp_server='kea', roamscan_spool_dir=str(peer.spool_dir),
                    roamscan_lease_file=str(peer.lease_file),
                    ansible_python_interpreter=str(netns_python(self.net.workdir / ('python-%s' % peer.name), peer.namespace,
                                                                self.lab.python)))
            self.deploy_hook()
            for peer in self.peers:
                self.start(peer)
            for peer in self.peers:
                self.wait_for_state(peer.name, self.mode)
        except BaseException:
            self.net.close()
            raise
        return self

    def __exit__(self, *exc):
        self.net.close()

    def kea_config(self, peer):
        """The Dhcp4 object of ``peer``: the lab subnet, its control socket, lease_cmds and the HA hook."""
        config = kea_dhcp4_config(self.net, peer.lease_file, valid_lifetime=self.valid_lifetime)
        config['interfaces-config'] = {'interfaces': [peer.interface], 'dhcp-socket-type': 'raw'}
        config['control-socket'] = {'socket-type': 'unix', 'socket-name': str(peer.socket)}
        if self.mode == 'load-balancing':
            # each server allocates from its own half; after a failover the survivor serves both halves
            prefix = self.net.prefix
            config['subnet4'][0]['pools'] = [
                {'pool': '%s.100 - %s.125' % (prefix, prefix), 'client-class': 'HA_server1'},
                {'pool': '%s.126 - %s.150' % (prefix, prefix), 'client-class': 'HA_server2'}]
        config['hooks-libraries'] = [
            {'library': '%s/libdhcp_lease_cmds.so' % KEA_HOOKS_DIR, 'parameters': {}},
            {'library': '%s/libdhcp_ha.so' % KEA_HOOKS_DIR, 'parameters': {'high-availability': [{
                'this-server-name': peer.name, 'mode': self.mode,
                # a dead partner is noticed within ~3 s: heartbeats every second, down after 3 s without an answer
                'heartbeat-delay': 1000, 'max-response-delay': 3000, 'max-ack-delay': 1000, 'max-unacked-clients': 0,
                'sync-timeout': 20000,
                'peers': [{'name': other.name, 'url': 'http://%s:%d/' % (other.ip, HA_PORT), 'role': other.role,
                           'auto-failover': True} for other in self.peers]}]}}]
        return config

    def deploy_hook(self):
        """The dhcp_hook role on both peers (one play, each peer its own prefix and Kea configuration)."""
        playbook = self.lab.root / 'tmp' / 'deploy-hook-ha.yml'
        playbook.write_text(json.dumps([{'name': 'Deploy the roamscan hook on both HA peers', 'hosts': 'dhcp1:dhcp2',
                                         'gather_facts': False, 'roles': [{'role': 'roamscan.qualys.dhcp_hook'}]}]))
        for peer in self.peers:
            self.lab.set_server_vars(peer.host, dhcp_hook_server='kea', dhcp_hook_root=str(peer.root),
                                     dhcp_hook_manage_service=False, dhcp_hook_manage_server_config=True,
                                     dhcp_hook_kea_config=self.kea_config(peer))
        proc = self.lab.run(playbook=str(playbook))
        if proc.returncode != 0:
            raise AssertionError('dhcp_hook role failed on the HA pair:\n%s' % (proc.stdout + proc.stderr)[-4000:])

    def start(self, peer):
        """Its kea-dhcp4 (the role's configuration) and its kea-ctrl-agent, both as _kea (pid files of their own)."""
        run_dir = self.net.workdir / peer.name
        run_dir.mkdir(exist_ok=True)
        shutil.chown(run_dir, user='_kea')
        peer.processes['kea'] = self.net.start_kea(str(peer.root) + CONFIG_FILE, name='kea-%s' % peer.name,
                                                   namespace=peer.namespace, run_dir=run_dir)
        agent_config = self.net.workdir / ('ctrl-agent-%s.conf' % peer.name)
        agent_config.write_text(json.dumps({'Control-agent': {
            'http-host': peer.ip, 'http-port': HA_PORT,
            'control-sockets': {'dhcp4': {'socket-type': 'unix', 'socket-name': str(peer.socket)}},
            'loggers': [{'name': 'kea-ctrl-agent', 'severity': 'INFO', 'output_options': [{'output': 'stdout'}]}]}}))
        agent = self.net.spawn('agent-%s' % peer.name, peer.namespace, [
            'setpriv', '--reuid=_kea', '--regid=_kea', '--init-groups', 'kea-ctrl-agent', '-c', str(agent_config)],
            env={'KEA_LOCKFILE_DIR': str(run_dir), 'KEA_PIDFILE_DIR': str(run_dir)})
        agent.wait_for_output('CTRL_AGENT_HTTP_SERVICE_STARTED')
        peer.processes['agent'] = agent

    def kill(self, name):
        """SIGKILL the peer's Kea and agent (the server dies; its files stay readable, as on a crashed host)."""
        for process in self.peer(name).processes.values():
            process.stop(9)

    def wait_for_state(self, name, state, timeout=60):
        """Until the peer's Kea logs its transition to ``state`` (hot-standby, load-balancing, partner-down)."""
        self.peer(name).processes['kea'].wait_for_output(' to %s state' % STATES[state], timeout=timeout)

    # -- laptops
    def connect(self, index, hostname=None, name=None):
        laptop = self.net.run_udhcpc(index, hostname, name=name)
        laptop.wait_for('bound')
        return laptop

    def wait_until_both_hold(self, laptop, timeout=20):
        """Until both peers' lease files show ``laptop``'s lease (the partner's copy comes by lease4-update)."""
        wait_until(lambda: all(peer.leases().get(laptop.mac) == laptop.address() for peer in self.peers), timeout,
                   what='%s leased to %s on both peers' % (laptop.address(), laptop.mac))

    def answering(self, ips):
        """The addresses among ``ips`` that answer a ping from the segment (the ARP cache dropped first)."""
        run('ip', '-n', self.net.server_ns, 'neigh', 'flush', 'dev', 'br0')
        return [ip for ip in ips if run('ip', 'netns', 'exec', self.net.server_ns, 'busybox', 'ping', '-c', '1', '-W', '2', ip,
                                        check=False).returncode == 0]
