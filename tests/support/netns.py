# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real DHCP servers and busybox udhcpc clients in private network namespaces (root only).

    with DhcpLab(workdir, clients=2) as lab:          # unique namespace names per lab
        kea = lab.start_kea(kea_dhcp4_config(lab, hooks_library=entry))
        first = lab.run_udhcpc(0, hostname='laptop-1')
        first.wait_for('bound'); first.renew(); first.release()

Nothing leaves the namespaces: a bridge in the server namespace, one veth pair per client, the
lab subnet (default 10.77.0.0/24) only exists inside them. Every process is started by this
module, tracked by PID and stopped by PID; namespaces are deleted on exit (also after a failure).
Daemons use config, lease, lock and pid files under ``workdir`` (must be traversable by _kea).
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

CLEAN_ENV = {'PATH': '/usr/sbin:/usr/bin:/sbin:/bin', 'LANG': 'C.UTF-8'}
KEA_HOOKS_DIR = '/usr/lib/x86_64-linux-gnu/kea/hooks'
UDHCPC_SCRIPT = '''#!/bin/sh
# udhcpc event script: log the event, (de)configure the address
echo "EVENT $1 ip=${ip:-} lease=${lease:-} t=$(date +%s.%N)" >> "$CLIENT_LOG"
case "$1" in
  deconfig) ip -4 addr flush dev "$interface" ;;
  bound|renew) ip addr replace "$ip/${mask:-24}" dev "$interface" ;;
esac
exit 0
'''


def run(*argv, check=True):
    proc = subprocess.run(argv, check=False, capture_output=True, text=True, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError('%s failed (rc=%s): %s' % (' '.join(argv)[:200], proc.returncode, proc.stderr[-2000:]))
    return proc


def wait_until(predicate, timeout, interval=0.1, what='condition'):
    """Poll ``predicate`` until it returns a truthy value; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %ss waiting for %s' % (timeout, what))
        time.sleep(interval)


class Process:
    """A process this module started (``ip netns exec`` execs, so the PID is the daemon's)."""

    def __init__(self, name, popen, log):
        self.name = name
        self.popen = popen
        self.log = log

    @property
    def pid(self):
        return self.popen.pid

    def alive(self):
        return self.popen.poll() is None

    def send_signal(self, signum):
        if self.alive():
            os.kill(self.pid, signum)

    def stop(self, signum=signal.SIGTERM, timeout=5):
        if self.alive():
            os.kill(self.pid, signum)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.popen.wait(timeout)

    def output(self):
        return self.log.read_text(errors='replace') if self.log.exists() else ''

    def wait_for_output(self, text, timeout=15):
        def seen():
            if not self.alive():
                raise AssertionError('%s exited (rc=%s):\n%s' % (self.name, self.popen.returncode, self.output()[-3000:]))
            return text in self.output()
        wait_until(seen, timeout, what='%r in the %s log' % (text, self.name))


class Client(Process):
    """A udhcpc client; its event script appends ``EVENT <bound|renew|deconfig|leasefail> ...``."""

    def __init__(self, name, popen, log, events, client_ns, mac):
        super().__init__(name, popen, log)
        self.events_file = events
        self.namespace = client_ns
        self.mac = mac

    def events(self):
        text = self.events_file.read_text() if self.events_file.exists() else ''
        return [line.split()[1] for line in text.splitlines() if line.startswith('EVENT ')]

    def wait_for(self, event, count=1, timeout=20):
        what = '%s udhcpc event %r x%d (got %s; log: %s)' % (self.name, event, count, self.events(), self.output()[-500:])
        wait_until(lambda: self.events().count(event) >= count, timeout, what=what)

    def address(self):
        for line in reversed(self.events_file.read_text().splitlines()):
            if line.startswith(('EVENT bound', 'EVENT renew')):
                return line.split()[2].split('=', 1)[1]
        return None

    def renew(self):
        """SIGUSR1: udhcpc renews (unicast REQUEST with ciaddr)."""
        self.send_signal(signal.SIGUSR1)

    def release(self):
        """SIGUSR2: udhcpc sends DHCPRELEASE and deconfigures."""
        self.send_signal(signal.SIGUSR2)

    def vanish(self):
        """SIGKILL without release and flush the address: the lease must expire on the server."""
        self.stop(signal.SIGKILL)
        run('ip', '-n', self.namespace, 'addr', 'flush', 'dev', 'eth0', check=False)


class NamespaceLab:
    """What every lab shares: processes started in its namespaces (``spawn``), stopped by PID and
    the namespaces deleted on ``close``. Subclasses set ``workdir`` and ``processes`` and name
    their namespaces in ``namespaces()``."""

    def namespaces(self):
        raise NotImplementedError

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for process in reversed(self.processes):
            try:
                process.stop()
            except (OSError, subprocess.SubprocessError):
                pass
        for namespace in self.namespaces():
            run('ip', 'netns', 'del', namespace, check=False)

    def spawn(self, name, namespace, argv, env=None, cls=Process, stdin=None, **extra):
        """Start ``argv`` (str or bytes items) inside ``namespace`` with a clean environment, feeding
        it ``stdin`` (bytes) if given; output goes to <name>.log."""
        log = self.workdir / ('%s.log' % name)
        full_env = dict(CLEAN_ENV)
        full_env.update(env or {})
        with open(log, 'ab') as handle:
            popen = subprocess.Popen(['ip', 'netns', 'exec', namespace, *argv], stdout=handle, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE, env=full_env)
        if stdin is not None:
            popen.stdin.write(stdin)
            popen.stdin.close()
        process = cls(name, popen, log, **extra)
        self.processes.append(process)
        return process


class DhcpLab(NamespaceLab):
    """A server namespace with bridge ``br0`` (``<prefix>.1/24``) and ``clients`` client namespaces.

    Names are ``<namespace_prefix><random>-s`` and ``...-c<i>`` (prefix ``rsq`` unless the test picks its own);
    client i's eth0 has MAC ``client_mac(i)``.
    """

    def __init__(self, workdir, clients=2, prefix='10.77.0', namespace_prefix='rsq'):
        self.workdir = Path(workdir)
        self.token = secrets.token_hex(4)
        self.server_ns = '%s%s-s' % (namespace_prefix, self.token)
        self.client_ns = ['%s%s-c%d' % (namespace_prefix, self.token, i) for i in range(clients)]
        self.prefix = prefix
        self.server_ip = prefix + '.1'
        self.interface = 'br0'
        self.extra_macs = {}
        self.processes = []
        self._script = self.workdir / 'udhcpc-event.sh'

    @staticmethod
    def client_mac(index):
        return '02:77:00:00:%02x:%02x' % (0x0a + index, index + 1)

    # -- lifecycle
    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self._script.write_text(UDHCPC_SCRIPT)
        os.chmod(self._script, 0o755)
        try:
            run('ip', 'netns', 'add', self.server_ns)
            run('ip', '-n', self.server_ns, 'link', 'set', 'lo', 'up')
            run('ip', '-n', self.server_ns, 'link', 'add', 'br0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0')
            for index, namespace in enumerate(self.client_ns):
                self.plug(namespace, 'p%d' % index, self.client_mac(index))
            run('ip', '-n', self.server_ns, 'addr', 'add', self.server_ip + '/24', 'dev', 'br0')
            run('ip', '-n', self.server_ns, 'link', 'set', 'br0', 'up')
            # servers that start before the bridge has carrier open no socket (Kea: "br0 is not running")
            wait_until(lambda: 'state UP' in run('ip', '-n', self.server_ns, '-o', 'link', 'show', 'br0').stdout, 10,
                       what='bridge br0 up')
        except BaseException:
            self.close()
            raise
        return self

    def namespaces(self):
        return self.client_ns + [self.server_ns]

    def plug(self, namespace, port, mac=None):
        """A new namespace whose eth0 (MAC ``mac``, if given) is plugged into the bridge through veth ``port``."""
        run('ip', 'netns', 'add', namespace)
        run('ip', '-n', namespace, 'link', 'set', 'lo', 'up')
        run('ip', 'link', 'add', port, 'netns', self.server_ns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', namespace)
        if mac:
            run('ip', '-n', namespace, 'link', 'set', 'eth0', 'address', mac)
        run('ip', '-n', self.server_ns, 'link', 'set', port, 'master', 'br0', 'up')
        run('ip', '-n', namespace, 'link', 'set', 'eth0', 'up')

    # -- processes
    def netns_exec(self, namespace, *argv):
        return run('ip', 'netns', 'exec', namespace, *argv)

    def start_kea(self, config_file, name='kea', namespace=None, run_dir=None):
        """kea-dhcp4 as _kea with the ambient capabilities of Debian's unit (in the server namespace unless
        ``namespace`` is given; lock and pid files in ``run_dir``, default the workdir); waits for DHCP4_STARTED."""
        run_dir = str(run_dir or self.workdir)
        kea = self.spawn(name, namespace or self.server_ns, [
            'setpriv', '--reuid=_kea', '--regid=_kea', '--init-groups',
            '--inh-caps=+net_raw,+net_bind_service', '--ambient-caps=+net_raw,+net_bind_service',
            'kea-dhcp4', '-c', str(config_file)],
            env={'KEA_LOCKFILE_DIR': run_dir, 'KEA_PIDFILE_DIR': run_dir})
        kea.wait_for_output('DHCP4_STARTED')
        return kea

    def start_dhcpd(self, config_file, lease_file, name='dhcpd'):
        """dhcpd as root (like Debian's init script), foreground, on br0 only."""
        Path(lease_file).touch()
        dhcpd = self.spawn(name, self.server_ns, [
            'dhcpd', '-4', '-f', '-d', '-cf', str(config_file), '-lf', str(lease_file),
            '-pf', str(self.workdir / ('%s.pid' % name)), 'br0'])
        dhcpd.wait_for_output('Server starting service.')
        return dhcpd

    def start_dnsmasq(self, lease_file, *options, name='dnsmasq'):
        """dnsmasq (DHCP only, user dnsmasq as on Debian) on br0; ``options`` e.g. --conf-file=snippet."""
        dnsmasq = self.spawn(name, self.server_ns, [
            'dnsmasq', '--keep-in-foreground', '--conf-file=/dev/null', '--port=0', '--user=dnsmasq',
            '--interface=br0', '--except-interface=lo', '--bind-interfaces', '--dhcp-authoritative',
            '--dhcp-range=%s.100,%s.150,255.255.255.0,2m' % (self.prefix, self.prefix),
            '--dhcp-leasefile=%s' % lease_file, '--pid-file=%s' % (self.workdir / ('%s.pid' % name)),
            '--log-dhcp', '--log-facility=-', *options])
        dnsmasq.wait_for_output('DHCP, IP range')
        return dnsmasq

    def run_udhcpc(self, index, hostname=None, *extra, name=None, interface='eth0'):
        """busybox udhcpc on ``interface`` of client ``index``; the host name goes out raw as option 12 (hex, so
        busybox does not split it). Returns a Client."""
        name = name or 'udhcpc-%d' % index
        events = self.workdir / ('%s.events' % name)
        argv = ['udhcpc', '-f', '-i', interface, '-s', str(self._script), '-t', '5', '-T', '2', '-A', '2']
        if hostname:
            argv += ['-x', '0x0c:' + hostname.encode().hex()]
        mac = self.client_mac(index) if interface == 'eth0' else self.extra_macs[(index, interface)]
        return self.spawn(name, self.client_ns[index], argv + list(extra), env={'CLIENT_LOG': str(events)},
                          cls=Client, events=events, client_ns=self.client_ns[index], mac=mac)

    def add_client_interface(self, index, mac, interface='eth1'):
        """A second network interface (another MAC) for client ``index`` on the same bridge: a laptop with
        wired and wireless, or a dock."""
        port = 'p%d%s' % (index, interface)
        run('ip', 'link', 'add', port, 'netns', self.server_ns, 'type', 'veth', 'peer', 'name', interface, 'netns', self.client_ns[index])
        run('ip', '-n', self.client_ns[index], 'link', 'set', interface, 'address', mac)
        run('ip', '-n', self.server_ns, 'link', 'set', port, 'master', 'br0', 'up')
        run('ip', '-n', self.client_ns[index], 'link', 'set', interface, 'up')
        self.extra_macs[(index, interface)] = mac

    def set_client_mac(self, index, mac):
        run('ip', '-n', self.client_ns[index], 'link', 'set', 'eth0', 'address', mac)

    def add_client_address(self, index, address):
        run('ip', '-n', self.client_ns[index], 'addr', 'add', address + '/24', 'dev', 'eth0')

    def python_wrapper(self, python):
        """A script usable as ansible_python_interpreter that runs modules inside the server namespace."""
        return netns_python(self.workdir / 'python-in-netns', self.server_ns, python)


def netns_python(wrapper, namespace, python):
    """Write ``wrapper``, a script usable as ansible_python_interpreter that runs ``python`` in ``namespace``."""
    wrapper = Path(wrapper)
    wrapper.write_text('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (namespace, python))
    os.chmod(wrapper, 0o755)
    return wrapper


def kea_dhcp4_config(lab, lease_file, hooks_libraries=(), valid_lifetime=8, reservations=()):
    """The ``Dhcp4`` object for a Kea serving the lab (memfile leases, reclaim every second)."""
    return {
        'interfaces-config': {'interfaces': [lab.interface], 'dhcp-socket-type': 'raw'},
        'lease-database': {'type': 'memfile', 'persist': True, 'lfc-interval': 0, 'name': str(lease_file)},
        'valid-lifetime': valid_lifetime,
        'expired-leases-processing': {'reclaim-timer-wait-time': 1, 'hold-reclaimed-time': 3600,
                                      'flush-reclaimed-timer-wait-time': 0},
        'hooks-libraries': list(hooks_libraries),
        'subnet4': [{'id': 1, 'subnet': lab.prefix + '.0/24',
                     'pools': [{'pool': '%s.100 - %s.150' % (lab.prefix, lab.prefix)}],
                     'reservations': [{'hw-address': mac, 'ip-address': ip} for mac, ip in reservations]}],
        'loggers': [{'name': 'kea-dhcp4', 'severity': 'INFO', 'output_options': [{'output': 'stdout'}]}],
    }


def dhcpd_config(lab, lease_time=8, include=None, extra=''):
    """dhcpd.conf text for the lab subnet; ``include`` adds an include line (the role's hook file)."""
    text = ('authoritative;\nddns-update-style none;\nping-check false;\n'
            'default-lease-time %d; max-lease-time %d; min-lease-time %d;\n'
            'subnet %s.0 netmask 255.255.255.0 {\n  range %s.100 %s.150;\n}\n%s'
            % (lease_time, lease_time, lease_time, lab.prefix, lab.prefix, lab.prefix, extra))
    if include:
        text += 'include "%s";\n' % include
    return text
