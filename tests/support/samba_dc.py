# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A real Samba AD DC, provisioned offline under a temp dir and run in its own namespace (root only).

    dc = SambaDc(workdir)
    dc.provision()                       # samba-tool domain provision, all files under workdir
    dc.start()                           # samba -F in netns samba<random>-dc, tracked by PID
    dc.attach(namespace, '10.89.0.2')    # a veth from the DC's bridge into another namespace
    dc.create_computer('LAPTOP01', 'password')
    dc.kinit(namespace, 'LAPTOP01$@ROAM.TEST', 'password')   # from a laptop's namespace
    dc.stop(); dc.close()

The DC's bridge ``br0`` holds ``10.89.0.1/24``; nothing of it exists outside the namespaces.
Samba's own DNS server and DNS updates are off (the clients name the KDC by address), so the
DC never looks for the resolver of the machine it runs on. Every process the DC started is
stopped by PID (``ip netns pids``); the namespace is deleted on close.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

from netns import CLEAN_ENV, netns_python, run, wait_until

REALM = 'ROAM.TEST'
DOMAIN = 'ROAM'
ADMIN_PASSWORD = 'Adm1n-' + secrets.token_hex(6)


class SambaDc:
    def __init__(self, workdir, address='10.89.0.1'):
        self.workdir = Path(workdir)
        self.token = secrets.token_hex(3)
        self.namespace = 'samba%s-dc' % self.token
        self.address = address
        self.prefix = address.rsplit('.', 1)[0]
        self.target = self.workdir / 'dc'
        self.smb_conf = self.target / 'etc' / 'smb.conf'
        self.audit_log = self.target / 'var' / 'log' / 'samba' / 'roamscan-auth.json'   # dc_audit's default, prefixed
        self.state_dir = self.target / 'var' / 'lib' / 'roamscan'
        self.log = self.workdir / 'samba.log'
        self.process = None
        self._links = 0
        self.provision_seconds = None

    # -- lifecycle
    def provision(self):
        """``samba-tool domain provision`` into the temp dir; returns the seconds it took."""
        run_dir = self.target / 'run'
        options = {'pid directory': run_dir, 'ncalrpc dir': run_dir / 'ncalrpc',
                   'winbindd socket directory': run_dir / 'winbindd', 'log file': self.target / 'log' / 'log.%m',
                   'interfaces': self.address, 'bind interfaces only': 'no',
                   'server services': '-dns -dnsupdate'}
        started = time.monotonic()
        run('samba-tool', 'domain', 'provision', '--targetdir=%s' % self.target, '--realm=%s' % REALM,
            '--domain=%s' % DOMAIN, '--server-role=dc', '--dns-backend=SAMBA_INTERNAL', '--host-name=dc1',
            '--host-ip=%s' % self.address, '--adminpass=%s' % ADMIN_PASSWORD,
            *['--option=%s=%s' % item for item in options.items()])
        self.provision_seconds = time.monotonic() - started
        for directory in (run_dir, self.target / 'log', self.target / 'cache'):
            directory.mkdir(parents=True, exist_ok=True)
        return self.provision_seconds

    def create_namespace(self):
        run('ip', 'netns', 'add', self.namespace)
        run('ip', '-n', self.namespace, 'link', 'set', 'lo', 'up')
        run('ip', '-n', self.namespace, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
        run('ip', '-n', self.namespace, 'addr', 'add', self.address + '/24', 'dev', 'br0')
        run('ip', '-n', self.namespace, 'link', 'set', 'br0', 'up')

    def start(self):
        """``samba -F`` inside the namespace (the PID is samba's: ``ip netns exec`` execs)."""
        handle = open(self.log, 'ab')
        try:
            popen = subprocess.Popen(['ip', 'netns', 'exec', self.namespace, 'samba', '-F', '-s', str(self.smb_conf)],
                                     stdout=handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=dict(CLEAN_ENV))
        finally:
            handle.close()
        self.process = popen
        wait_until(self._kdc_listening, 60, interval=0.3, what='the Samba KDC on %s:88 (log: %s)' % (self.address, self.log))

    def _kdc_listening(self):
        if self.process.poll() is not None:
            raise AssertionError('samba exited (rc=%s):\n%s'
                                 % (self.process.returncode, self.log.read_text(errors='replace')[-3000:]))
        sockets = run('ip', 'netns', 'exec', self.namespace, 'ss', '-Hltn', 'sport = :88', check=False).stdout
        return bool(sockets.strip())

    def pids(self):
        return [int(pid) for pid in run('ip', 'netns', 'pids', self.namespace, check=False).stdout.split()]

    def stop(self, timeout=15):
        """SIGTERM samba, then whatever it started that is still in the namespace."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:  # killed below with the rest
                pass
        deadline = time.monotonic() + timeout
        while self.pids() and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in self.pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def close(self):
        self.stop()
        run('ip', 'netns', 'del', self.namespace, check=False)

    # -- network
    def attach(self, namespace, address, device='dc0'):
        """A veth from the DC's bridge into ``namespace`` with ``address``/24 on ``device``."""
        self._links += 1
        port = 'l%d' % self._links
        run('ip', 'link', 'add', port, 'netns', self.namespace, 'type', 'veth', 'peer', 'name', device, 'netns', namespace)
        run('ip', '-n', self.namespace, 'link', 'set', port, 'master', 'br0', 'up')
        run('ip', '-n', namespace, 'addr', 'add', address + '/24', 'dev', device)
        run('ip', '-n', namespace, 'link', 'set', device, 'up')

    def serve_office(self, namespace, laptops_network, router_address):
        """Make ``namespace`` (a DHCP lab's server) the router between the laptops' ``laptops_network`` and the DC."""
        self.attach(namespace, router_address)
        run('ip', 'netns', 'exec', namespace, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1')
        self.route(laptops_network, router_address)

    def python_wrapper(self, python):
        """ansible_python_interpreter for modules that run on the DC (inside its namespace)."""
        return netns_python(self.workdir / 'python-on-dc', self.namespace, python)

    def route(self, network, via):
        run('ip', '-n', self.namespace, 'route', 'replace', network, 'via', via)

    # -- directory
    def samba_tool(self, *args):
        return run('samba-tool', *args, '-s', str(self.smb_conf))

    def create_computer(self, name, password):
        """A computer account ``NAME$`` with a known password (what a domain join sets)."""
        self.samba_tool('computer', 'create', name)
        self.samba_tool('user', 'setpassword', name + '$', '--newpassword=%s' % password)

    def kinit(self, namespace, principal, password):
        """``kinit PRINCIPAL`` (``LAPTOP01$@ROAM.TEST``) from ``namespace`` against this KDC (named by address, a ticket
        cache of its own); returns the CompletedProcess (``returncode`` 0 when the KDC accepted the password)."""
        conf = self.workdir / 'krb5-clients.conf'
        if not conf.exists():
            self.krb5_conf(conf)
        cache = self.workdir / ('ccache-%s' % secrets.token_hex(4))
        return subprocess.run(['ip', 'netns', 'exec', namespace, 'kinit', principal], input=password + '\n',
                              capture_output=True, text=True, timeout=60, check=False,
                              env=dict(CLEAN_ENV, KRB5_CONFIG=str(conf), KRB5CCNAME='FILE:%s' % cache))

    def krb5_conf(self, path):
        """A krb5.conf that names this KDC by address (no DNS)."""
        Path(path).write_text('[libdefaults]\n\tdefault_realm = %s\n\tdns_lookup_realm = false\n\tdns_lookup_kdc = false\n'
                              '\tudp_preference_limit = 1\n[realms]\n\t%s = {\n\t\tkdc = %s\n\t}\n'
                              % (REALM, REALM, self.address))
        return path
