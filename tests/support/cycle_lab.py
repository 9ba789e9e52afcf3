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
import subprocess
import sys
import tempfile
import time
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
    """One controller + fake DHCP servers (lease_events runs locally on files this lab writes)."""

    def __init__(self, root, ansible_env, servers=('dhcp1',), cache='jsonfile', cache_connection=None,
                 cache_timeout=0, venv_bin=None):
        self.root = Path(root)
        self.env = dict(ansible_env)
        self.venv_bin = Path(venv_bin) if venv_bin else Path(sys.executable).parent
        self.python = str(self.venv_bin / 'python')
        self.servers = list(servers)
        self.server_vars = {name: {} for name in self.servers}
        self.other_groups = {}   # {group: {host: hostvars}}: neighbour sources, domain controllers
        self.cache_dir = self.root / 'facts'
        (self.root / 'tmp').mkdir(parents=True, exist_ok=True)
        for name in self.servers:
            self.spool_dir(name).mkdir(parents=True, exist_ok=True)
            self.write_leases(name, [])
        self.write_config(cache, cache_connection or str(self.cache_dir), cache_timeout)
        self.write_inventory()

    # -- files a controller and DHCP servers would have -------------------------------------
    def spool_dir(self, server):
        return self.root / server / 'spool'

    def lease_file(self, server):
        return self.root / server / 'kea-leases4.csv'

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
        children = {'dhcp_servers': {'hosts': hosts}}
        local = {'ansible_connection': 'local', 'ansible_python_interpreter': self.python}
        # a DHCP server in another group too keeps its own connection (a real server's namespace)
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

    def set_server_vars(self, server, **hostvars):
        """Override inventory variables of DHCP server ``server`` (e.g. where a real server keeps its files)."""
        self.server_vars[server].update(hostvars)
        self.write_inventory()

    def add_group_host(self, group, host, **hostvars):
        """Host ``host`` (run locally) in inventory group ``group`` (``domain_controllers``, ``neighbor_sources``)."""
        self.other_groups.setdefault(group, {}).setdefault(host, {}).update(hostvars)
        self.write_inventory()

    def append_spool(self, server, line):
        with open(self.spool_dir(server) / 'current', 'a', encoding='utf-8') as handle:
            handle.write(line)

    # -- running ---------------------------------------------------------------------------
    def qualys_env(self, sim):
        return {'QUALYS_API_URL': sim.url, 'QUALYS_USERNAME': sim.username, 'QUALYS_PASSWORD': sim.password}

    def playbook_command(self, extra_vars=None, playbook='roamscan.qualys.scan_overdue', options=()):
        variables = dict(SCAN_SETTINGS)
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

    def spawn(self, sim, extra_vars=None):
        """Start the cycle in its own process group (to kill it mid-way)."""
        full_env = dict(self.env)
        full_env['PATH'] = '%s:%s' % (self.venv_bin, full_env.get('PATH', '/usr/bin:/bin'))
        full_env.update(self.qualys_env(sim))
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

    def records(self):
        """Every identity record of the jsonfile store, by store key, read through ansible-core's own cache plugin
        (the inventory lists MAC records only)."""
        from ansible.plugins.loader import cache_loader, init_plugin_loader  # pylint: disable=import-outside-toplevel
        init_plugin_loader()
        cache = cache_loader.get('ansible.builtin.jsonfile', _uri=str(self.cache_dir), _timeout=0, _prefix='')
        return {key: cache.get(key)['roamscan'] for key in cache.keys() if key.startswith('roamscan-id-')}

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


def warnings_of(proc):
    """Every [WARNING] Ansible printed."""
    return [line for line in (proc.stdout + proc.stderr).splitlines() if '[WARNING]' in line]


def launch_calls(sim):
    return [call for call in sim.state.calls if call.get('params', {}).get('action') == 'launch']


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
