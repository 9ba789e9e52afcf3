# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A scan-cycle lab for tests, benchmarks and the demo: a controller directory with ansible.cfg
(jsonfile fact cache, or any other), an inventory of DHCP servers, and helpers that write what
a real DHCP server would leave behind (a Kea memfile lease CSV, hook spool records) and run the
cycle with ansible-playbook against a Qualys API (the simulator on loopback in tests).

As root, ``RealKea`` turns one of those DHCP servers into a real Kea with the roamscan hook in a
network namespace, serving real udhcpc laptops."""
from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from netns import DhcpLab, kea_dhcp4_config, run as run_command

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
KEA_HEADER = 'address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context'
SCAN_SETTINGS = {'roamscan_option_profile': 'Laptop Light Scan', 'roamscan_scanner': ['laptop_scanner_1']}


def kea_lease_row(ip, mac, expire, valid_lifetime=3600, hostname='', state=0):
    """One Kea 2.2 memfile row (expire: epoch seconds; valid_lifetime 0 = released; state 1 declined, 2 expired)."""
    return '%s,%s,,%d,%d,1,0,0,%s,%d,' % (ip, mac, valid_lifetime, int(expire), hostname, state)


def unwrap_unsafe(value):
    # ansible-inventory marks values that must never be templated (they came from DHCP clients)
    return value['__ansible_unsafe'] if list(value) == ['__ansible_unsafe'] else value


class CycleLab:
    """One controller + fake DHCP servers (presence_events runs locally on files this lab writes) and, with
    ``vpn_servers`` (``{name: openvpn|ocserv|wireguard}``), VPN servers in group vpn_servers."""

    def __init__(self, root, ansible_env, servers=('dhcp1',), cache='jsonfile', cache_connection=None,
                 cache_timeout=0, venv_bin=None, vpn_servers=None):
        self.root = Path(root)
        self.env = dict(ansible_env)
        self.venv_bin = Path(venv_bin) if venv_bin else Path(sys.executable).parent
        self.python = str(self.venv_bin / 'python')
        self.servers = list(servers)
        self.vpn_servers = dict(vpn_servers or {})
        self.server_vars = {name: {} for name in self.servers + list(self.vpn_servers)}
        self.other_groups = {}   # {group: {host: hostvars}}: neighbour sources, domain controllers, log sources
        self.cache_dir = self.root / 'facts'
        self.store_vars = {}
        (self.root / 'tmp').mkdir(parents=True, exist_ok=True)
        for name in self.servers:
            self.spool_dir(name).mkdir(parents=True, exist_ok=True)
            self.write_leases(name, [])
        for name in self.vpn_servers:
            self.spool_dir(name).mkdir(parents=True, exist_ok=True)
        self.write_config(cache, cache_connection or str(self.cache_dir), cache_timeout)
        self.write_inventory()

    # -- files a controller and DHCP servers would have -------------------------------------
    def spool_dir(self, server):
        return self.root / server / 'spool'

    def lease_file(self, server):
        return self.root / server / 'kea-leases4.csv'

    def status_file(self, server):
        """Where VPN server ``server`` (OpenVPN) keeps its status file."""
        return self.root / server / 'status-roamscan.log'

    def write_config(self, cache, connection, timeout):
        lines = ['[defaults]', 'fact_caching = %s' % cache]
        if connection is not None:
            lines.append('fact_caching_connection = %s' % connection)
        if timeout is not None:
            lines.append('fact_caching_timeout = %s' % timeout)
        lines += ['inventory = %s' % (self.root / 'inventory.yml'), 'forks = 10', '']
        (self.root / 'ansible.cfg').write_text('\n'.join(lines))
        self.env['ANSIBLE_CONFIG'] = str(self.root / 'ansible.cfg')
        self.env['ANSIBLE_CALLBACK_RESULT_FORMAT'] = 'json'
        self.env.pop('ANSIBLE_PYTHON_INTERPRETER', None)

    def write_inventory(self):
        hosts = {name: dict({'ansible_connection': 'local', 'ansible_python_interpreter': self.python,
                             'roamscan_dhcp_server': 'kea', 'roamscan_spool_dir': str(self.spool_dir(name)),
                             'roamscan_lease_file': str(self.lease_file(name))}, **self.server_vars[name])
                 for name in self.servers}
        vpn_hosts = {name: dict({'ansible_connection': 'local', 'ansible_python_interpreter': self.python,
                                 'roamscan_vpn_server': kind, 'roamscan_spool_dir': str(self.spool_dir(name)),
                                 'roamscan_vpn_table': str(self.status_file(name))}, **self.server_vars[name])
                     for name, kind in self.vpn_servers.items()}
        children = {'dhcp_servers': {'hosts': hosts}, 'vpn_servers': {'hosts': vpn_hosts}}
        local = {'ansible_connection': 'local', 'ansible_python_interpreter': self.python}
        # a DHCP or VPN server in another group too keeps its own connection (a real server's namespace)
        children.update({group: {'hosts': {name: dict({} if name in self.server_vars else local, **hostvars)
                                           for name, hostvars in members.items()}}
                         for group, members in self.other_groups.items()})
        inventory = {'all': {'hosts': {'localhost': {'ansible_connection': 'local', 'ansible_python_interpreter': self.python}},
                             'children': children}}
        (self.root / 'inventory.yml').write_text(json.dumps(inventory, indent=1))
        (self.root / 'roamscan.laptops.yml').write_text('plugin: roamscan.qualys.laptops\n')

    def write_leases(self, server, leases):
        """leases: (ip, mac[, seconds_left[, hostname]]) active now; seconds_left <= 0 writes an expired lease."""
        rows = [KEA_HEADER]
        now = time.time()
        for lease in leases:
            ip, mac = lease[0], lease[1]
            left = lease[2] if len(lease) > 2 else 3600
            hostname = lease[3] if len(lease) > 3 else ''
            rows.append(kea_lease_row(ip, mac, now + left, hostname=hostname, state=0 if left > 0 else 2))
        path = self.lease_file(server)
        path.write_text('\n'.join(rows) + '\n')

    def write_openvpn_status(self, server, sessions, seconds_ago=0):
        """An OpenVPN status file (version 3, rewritten ``seconds_ago``) listing ``sessions``: ``(common name, tunnel ip)``."""
        now = int(time.time()) - seconds_ago
        lines = ['TITLE\tOpenVPN 2.6 lab', 'TIME\t%s\t%d' % (time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(now)), now),
                 'HEADER\tCLIENT_LIST\tCommon Name\tReal Address\tVirtual Address\tVirtual IPv6 Address\tBytes Received'
                 '\tBytes Sent\tConnected Since\tConnected Since (time_t)\tUsername\tClient ID\tPeer ID\tData Channel Cipher']
        lines += ['CLIENT_LIST\t%s\t10.87.0.2:5000%d\t%s\t\t1\t1\tx\t%d\tUNDEF\t%d\t%d\tAES-256-GCM' % (name, index, ip, now, index, index)
                  for index, (name, ip) in enumerate(sessions)]
        self.status_file(server).write_text('\n'.join(lines + ['END', '']))

    def records(self):
        """Every identity record in the jsonfile store, by identity key (``identity`` kind:value; the MAC for a MAC)."""
        found = {}
        for path in self.cache_dir.glob('*roamscan-id-*'):
            data = json.loads(path.read_text())
            if '__payload__' in data:
                data = json.loads(data['__payload__'])
            record = data['roamscan']
            identity = record['identity']
            found[identity['value'] if identity['kind'] == 'mac' else '%s:%s' % (identity['kind'], identity['value'])] = record
        return found

    def set_server_vars(self, server, **hostvars):
        """Override inventory variables of DHCP or VPN server ``server`` (e.g. where a real server keeps its files)."""
        self.server_vars[server].update(hostvars)
        self.write_inventory()

    def add_group_host(self, group, host, **hostvars):
        """Host ``host`` (run locally) in inventory group ``group`` (``domain_controllers``, ``neighbor_sources``)."""
        self.other_groups.setdefault(group, {}).setdefault(host, {}).update(hostvars)
        self.write_inventory()

    def use_store(self, directory):
        """Keep roamscan's laptop store (roamscan_fact_cache, jsonfile) in ``directory``, apart from Ansible's own
        fact cache; every run and the inventory source use it."""
        self.cache_dir = Path(directory)
        store = {'plugin': 'ansible.builtin.jsonfile', 'connection': str(self.cache_dir), 'timeout': 0}
        self.store_vars = {'roamscan_fact_cache': store}
        (self.root / 'roamscan.laptops.yml').write_text(json.dumps({'plugin': 'roamscan.qualys.laptops', 'fact_cache': store}))

    def append_spool(self, server, line):
        with open(self.spool_dir(server) / 'current', 'a', encoding='utf-8') as handle:
            handle.write(line)

    # -- running ---------------------------------------------------------------------------
    def qualys_env(self, sim):
        return {'QUALYS_API_URL': sim.url, 'QUALYS_USERNAME': sim.username, 'QUALYS_PASSWORD': sim.password}

    def playbook_command(self, extra_vars=None, playbook='roamscan.qualys.scan_overdue', options=()):
        variables = dict(SCAN_SETTINGS, **self.store_vars)
        variables.update(extra_vars or {})
        vars_file = self.root / 'tmp' / 'extra-vars.json'
        vars_file.write_text(json.dumps(variables))
        return [str(self.venv_bin / 'ansible-playbook'), playbook, '-e', '@%s' % vars_file, *options]

    def run(self, sim=None, extra_vars=None, env=None, playbook='roamscan.qualys.scan_overdue', timeout=600, options=()):
        """Run a playbook (the cycle by default) with the scan settings and ``extra_vars``; ``options`` go to ansible-playbook."""
        full_env = dict(self.env)
        full_env['PATH'] = '%s:%s' % (self.venv_bin, full_env.get('PATH', '/usr/bin:/bin'))
        if sim is not None:
            full_env.update(self.qualys_env(sim))
        full_env.update(env or {})
        return subprocess.run(self.playbook_command(extra_vars, playbook, options), env=full_env, cwd=str(self.root),
                              capture_output=True, text=True, timeout=timeout, check=False)

    def spawn(self, sim, extra_vars=None, env=None):
        """Start the cycle in its own process group (to kill it mid-way)."""
        full_env = dict(self.env)
        full_env['PATH'] = '%s:%s' % (self.venv_bin, full_env.get('PATH', '/usr/bin:/bin'))
        full_env.update(self.qualys_env(sim))
        full_env.update(env or {})
        return subprocess.Popen(self.playbook_command(extra_vars), env=full_env, cwd=str(self.root),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)

    def lease(self):
        """The cycle lease of a jsonfile store as its file says (None before the first cycle)."""
        try:
            return json.loads((self.cache_dir / '.roamscan-lock' / 'lease').read_text())
        except FileNotFoundError:
            return None

    def wait_until_lease_expires(self, timeout=120):
        """Sleep until the lease a killed cycle left behind has expired (it never released it)."""
        lease = self.lease()
        assert lease and lease['held'], 'no lease held: %r' % lease
        left = lease['expires'] - time.time()
        assert left < timeout, 'lease of %d s left' % left
        time.sleep(max(0.0, left + 0.2))

    def at_point(self, sim, point, command=None, extra_vars=None, timeout=600):
        """Run the cycle and, at ``point`` (``before:``, ``after:`` or ``after-item:<task name>``,
        tests/support/callback_plugins/stage_point.py), run ``command`` (argv) and go on, or without one SIGKILL
        the run's whole process group. Returns (returncode, output); fails unless the run reached the point."""
        mark = self.root / 'tmp' / 'reached-point'
        mark.unlink(missing_ok=True)
        env = {'ANSIBLE_CALLBACK_PLUGINS': str(Path(__file__).resolve().parent / 'callback_plugins'),
               'ANSIBLE_CALLBACKS_ENABLED': 'stage_point', 'ROAMSCAN_AT': point, 'ROAMSCAN_AT_MARK': str(mark)}
        if command:
            env['ROAMSCAN_AT_RUN'] = json.dumps(list(command))
        proc = self.spawn(sim, extra_vars, env)
        output = proc.communicate(timeout=timeout)[0]
        if not mark.exists() or mark.read_text().strip() != point:
            raise AssertionError('the cycle never reached %s (rc=%s):\n%s' % (point, proc.returncode, output[-4000:]))
        return proc.returncode, output

    def crash(self, sim, point, extra_vars=None, timeout=600):
        """The cycle SIGKILLed at ``point`` (see ``at_point``); returns its output. Fails unless it died there."""
        returncode, output = self.at_point(sim, point, extra_vars=extra_vars, timeout=timeout)
        if returncode != -signal.SIGKILL:
            raise AssertionError('the cycle was not killed at %s (rc=%s):\n%s' % (point, returncode, output[-4000:]))
        return output

    def expire_lease(self):
        """Move the lease a killed cycle left held past its expiry, as waiting roamscan_cycle_lock_seconds would
        (tests/functional/test_cycle_lock.py waits for real). False when no lease was held."""
        lease = self.lease()
        if not lease or not lease.get('held'):
            return False
        lease['expires'] = time.time() - 1
        path = self.cache_dir / '.roamscan-lock' / 'lease'
        temporary = path.with_name('.lease-expired')
        temporary.write_text(json.dumps(lease))
        os.replace(temporary, path)
        return True

    def unacknowledged(self, server):
        """The spool lines of DHCP server ``server`` that no cycle acknowledged yet (rotated segments past their acked
        offset, then ``current``)."""
        spool = Path(self.server_vars[server].get('roamscan_spool_dir') or self.spool_dir(server))
        try:
            acked = json.loads((spool / 'state.json').read_text()).get('acked', {})
        except FileNotFoundError:
            acked = {}
        lines = []
        segments = sorted((int(path.name[4:]), path) for path in spool.glob('seg.*') if path.name[4:].isdigit())
        for number, path in segments:
            lines += path.read_bytes()[acked.get(str(number), 0):].decode().splitlines()
        if (spool / 'current').exists():
            lines += (spool / 'current').read_text().splitlines()
        return lines

    def inventory(self):
        """The laptops as users see them: ansible-inventory with the roamscan.qualys.laptops plugin."""
        full_env = dict(self.env)
        full_env['ANSIBLE_INVENTORY_ENABLED'] = 'roamscan.qualys.laptops'
        proc = subprocess.run([str(self.venv_bin / 'ansible-inventory'), '-i', str(self.root / 'roamscan.laptops.yml'), '--list'],
                              env=full_env, cwd=str(self.root), capture_output=True, text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise AssertionError('ansible-inventory failed:\n%s\n%s' % (proc.stdout, proc.stderr))
        data = json.loads(proc.stdout, object_hook=unwrap_unsafe)
        hostvars = data.get('_meta', {}).get('hostvars', {})
        groups = {name: set(value.get('hosts', [])) for name, value in data.items() if name != '_meta'}
        return {host: values['roamscan'] for host, values in hostvars.items() if 'roamscan' in values}, groups

    def cleanup(self):
        shutil.rmtree(self.root, ignore_errors=True)


class RealKea:
    """DHCP server ``server`` of a CycleLab played by a real Kea in a network namespace (root only).

    The hook is deployed by the dhcp_hook role (real ansible-playbook, under a path prefix, Kea
    configuration written by the role); the cycle runs lease_events inside the server namespace.
    Laptops are busybox udhcpc clients (``connect``); ``answering`` pings from the server side,
    which is what a scanner on that network would see. Leaving the ``with`` block (also on an
    exception or Ctrl-C) stops every process by PID and deletes the namespaces.
    """

    SPOOL_DIR = '/var/spool/roamscan'   # the role's default, under the prefix
    CONFIG_FILE = '/etc/kea/kea-dhcp4.conf'

    def __init__(self, lab, workdir, clients=3, valid_lifetime=3600, server='dhcp1', namespace_prefix='rsq'):
        self.lab = lab
        self.server = server
        self.net = DhcpLab(Path(workdir) / 'net', clients=clients, namespace_prefix=namespace_prefix)
        self.prefix_dir = Path(workdir) / 'root'
        self.lease_file = self.net.workdir / 'kea-leases4.csv'
        self.valid_lifetime = valid_lifetime
        self.kea = None

    def __enter__(self):
        self.net.__enter__()
        try:
            shutil.chown(self.net.workdir, user='_kea')   # Kea writes its lease file, lock and pid files there
            (self.prefix_dir / self.CONFIG_FILE.lstrip('/')).parent.mkdir(parents=True)
            self.lab.set_server_vars(
                self.server, ansible_python_interpreter=str(self.net.python_wrapper(self.lab.python)),
                roamscan_dhcp_server='kea', roamscan_spool_dir=str(self.prefix_dir) + self.SPOOL_DIR,
                roamscan_lease_file=str(self.lease_file))
            self.deploy_hook()
            self.kea = self.net.start_kea(str(self.prefix_dir) + self.CONFIG_FILE)
        except BaseException:
            self.net.close()
            raise
        return self

    def __exit__(self, *exc):
        self.net.close()

    def deploy_hook(self):
        """The dhcp_hook role on this server, as a DHCP administrator's play would include it."""
        playbook = self.lab.root / 'tmp' / 'deploy-hook.yml'
        playbook.write_text(json.dumps([{'name': 'Deploy the roamscan hook', 'hosts': self.server, 'gather_facts': False,
                                         'roles': [{'role': 'roamscan.qualys.dhcp_hook'}]}]))
        variables = {'dhcp_hook_server': 'kea', 'dhcp_hook_root': str(self.prefix_dir), 'dhcp_hook_manage_service': False,
                     'dhcp_hook_manage_server_config': True,
                     'dhcp_hook_kea_config': kea_dhcp4_config(self.net, self.lease_file, valid_lifetime=self.valid_lifetime)}
        proc = self.lab.run(playbook=str(playbook), extra_vars=variables)
        if proc.returncode != 0:
            raise AssertionError('dhcp_hook role failed:\n%s' % (proc.stdout + proc.stderr)[-4000:])

    def connect(self, index, hostname=None, *extra, name=None, interface='eth0'):
        """Laptop ``index`` asks for a lease on ``interface``; returns the bound netns.Client."""
        laptop = self.net.run_udhcpc(index, hostname, *extra, name=name, interface=interface)
        laptop.wait_for('bound')
        return laptop

    def answering(self, ips):
        """The addresses among ``ips`` that answer a ping from the DHCP server's network. The server's
        ARP cache is dropped first: a scanner is another machine, it does not know who held an IP before."""
        run_command('ip', '-n', self.net.server_ns, 'neigh', 'flush', 'dev', self.net.interface)
        return [ip for ip in ips if run_command('ip', 'netns', 'exec', self.net.server_ns, 'busybox', 'ping', '-c', '1',
                                                '-W', '2', ip, check=False).returncode == 0]


@contextlib.contextmanager
def real_kea_lab(ansible_env, prefix, clients):
    """A controller (jsonfile fact cache) whose DHCP server dhcp1 is a real Kea with ``clients`` laptops' namespaces,
    in a fresh directory named by ``prefix`` that is removed afterwards."""
    workdir = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(workdir, 0o755)   # Kea runs as _kea and must reach its files below
    try:
        with RealKea(CycleLab(workdir / 'controller', ansible_env), workdir / 'dhcp', clients=clients) as kea:
            yield kea
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def hook_line(mac, ip):
    """A spool record as the DHCP hook writes it now (this machine's boot id and uptime)."""
    boot_id = Path('/proc/sys/kernel/random/boot_id').read_text().strip()
    uptime = Path('/proc/uptime').read_text().split()[0]
    return 'rs1 %s %s 4242 kea lease %s %s - +3600 .\n' % (boot_id, uptime, mac, ip)


def launch_call_ips(call):
    """The IPs of a launch call, with the ranges the client compresses consecutive addresses into expanded."""
    found = []
    for part in call['params']['ip'].split(','):
        first, dummy, last = part.partition('-')
        start, end = ipaddress.IPv4Address(first), ipaddress.IPv4Address(last or first)
        found += [str(ipaddress.IPv4Address(number)) for number in range(int(start), int(end) + 1)]
    return found


def _json_after(text, index):
    start = text.index('{', index)
    depth = 0
    in_string = escaped = False
    for position in range(start, len(text)):
        char = text[position]
        if in_string:
            escaped = char == '\\' and not escaped
            if char == '"' and not escaped:
                in_string = False
            elif char != '\\':
                escaped = False
        elif char == '"':
            in_string = True
        elif char == '{':
            depth += 1
        elif char == '}':
            depth -= 1
            if depth == 0:
                return json.loads(text[start:position + 1])
    raise ValueError('unterminated JSON object')


def summary_of(proc_or_output):
    """What the cycle reported in its summary task (default callback, JSON result format)."""
    output = proc_or_output if isinstance(proc_or_output, str) else proc_or_output.stdout + proc_or_output.stderr
    marker = 'TASK [Summary | Show what this cycle did]'
    index = output.rfind(marker)
    if index < 0:
        raise AssertionError('cycle did not reach its summary:\n%s' % output[-8000:])
    return _json_after(output, index)['msg']


def warnings_of(proc_or_output):
    """Every [WARNING] Ansible printed."""
    output = proc_or_output if isinstance(proc_or_output, str) else proc_or_output.stdout + proc_or_output.stderr
    return [line for line in output.splitlines() if '[WARNING]' in line]


def launch_calls(sim):
    return [call for call in sim.state.calls if call.get('params', {}).get('action') == 'launch']


def finish_scans(sim, alive):
    """Every scan of the simulator finishes and is processed, finding the addresses ``alive`` (over its HTTP admin
    routes, as a scanner's results would arrive)."""
    for route, body in (('alive', {'ips': list(alive)}), ('scans', {'ref': '*', 'action': 'process'})):
        request = urllib.request.Request('%s/_sim/%s' % (sim.url, route), data=json.dumps(body).encode(), method='POST')
        with urllib.request.urlopen(request, timeout=30) as answer:
            answer.read()


def run_demo(workdir, *args, timeout=600):
    """``scripts/demo`` as the README runs it, with this Python's venv and ``workdir`` as its work directory."""
    env = dict(os.environ, ROAMSCAN_VENV=str(Path(sys.executable).parents[1]), ROAMSCAN_DEMO_DIR=str(workdir))
    return subprocess.run(['scripts/demo', *args], cwd=str(COLLECTION_ROOT), env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)


def demo_cycles(output):
    """What scripts/demo printed per cycle, read back from its plain-language lines:
    ``[{'credited': [mac], 'launched_targets': [ip], 'pending': n, 'overdue': n, 'not_credited': {mac: reason},
    'launch_calls': [(ip, count)], 'total': n}]``."""
    mac = r'([0-9a-f]{2}(?::[0-9a-f]{2}){5})'
    counts = {'on the network now': 'present', 'waiting for a scan result': 'pending'}
    cycles = []
    for section in output.split('\n=== ')[1:]:
        if not section.startswith('cycle '):
            continue
        found = {'launch_calls': [], 'total': None, 'credited': None, 'launched_targets': None, 'not_credited': {}}
        for line in section.splitlines()[1:]:
            call = re.match(r'  Qualys launch call: ip=(\S+) \((\d+) IPs?\)', line)
            total = re.match(r'  Qualys launch calls in total: (\d+)$', line)
            count = re.match(r'  (on the network now|overdue \(no scan in \d+ days\)|waiting for a scan result): +(\d+)$', line)
            if call:
                found['launch_calls'].append((call.group(1), int(call.group(2))))
            elif total:
                found['total'] = int(total.group(1))
            elif count:
                found[counts.get(count.group(1), 'overdue')] = int(count.group(2))
            elif line.startswith('  credited as scanned: '):
                found['credited'] = re.findall(r'\(%s\)' % mac, line)
            elif line.startswith('  not credited: '):
                found['not_credited'] = dict(re.findall(r'\(%s\): ([^;]+)' % mac, line))
            elif line.startswith('  scan launched: '):
                found['launched_targets'] = re.findall(r'\((\d+\.\d+\.\d+\.\d+)\)', line)
        cycles.append(found)
    return cycles
