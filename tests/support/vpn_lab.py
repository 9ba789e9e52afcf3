# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real VPN servers and clients in two private network namespaces (root only).

    certs = VpnCertificates(tmp / 'pki', server_ip=VpnLab.SERVER_IP, clients=['laptop-vpn-01'])
    with VpnLab(tmp / 'lab', certs) as lab:
        config.write_text(lab.openvpn_config(hook='/path/hook'))  # OpenVPN 2.6, --dev tun
        server = lab.start_openvpn(config)
        laptop = lab.openvpn_client('laptop-vpn-01').wait_connected()   # real openvpn client
        lab.prove_tunnel('10.88.0.2', '10.88.0.1')
        oc_config.write_text(lab.ocserv_config({'alice': 'pw'}, hook=...))  # password auth (ocpasswd)
        ocserv = lab.start_ocserv(oc_config)
        oc = lab.openconnect('alice', 'pw').wait_connected()     # real openconnect client
        wg = lab.start_wireguard()                                # wireguard-go on both sides

The server namespace ``<token>s`` holds ``SERVER_IP`` on one end of a veth pair, the client
namespace ``<token>c`` holds ``CLIENT_IP`` on the other; nothing else is reachable. Every process
is started here, tracked by PID and stopped by PID; namespaces are deleted on exit.

wireguard-go needs only /dev/net/tun and its UAPI socket directory /var/run/wireguard, which is
NOT per namespace: interface names carry the lab token so parallel labs never share a socket, and
``wg`` finds a userspace interface by that socket from any namespace.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from netns import CLEAN_ENV, NamespaceLab, Process, run, wait_until

OPENVPN_NET = '10.88.0'
OCSERV_NET = '10.89.0'
WIREGUARD_NET = '10.90.0'
# the client's openconnect --script: configure the tunnel address like vpnc-script, without
# touching resolv.conf or routes outside the namespace
OPENCONNECT_SCRIPT = '''#!/bin/sh
case $reason in
  connect)
    ip link set dev "$TUNDEV" up mtu "${INTERNAL_IP4_MTU:-1300}"
    ip addr add "$INTERNAL_IP4_ADDRESS/32" peer "$INTERNAL_IP4_ADDRESS" dev "$TUNDEV"
    ip route add %s.0/24 dev "$TUNDEV" ;;
esac
exit 0
''' % OCSERV_NET
STRONGSWAN_POOL = '10.91.0.10-10.91.0.20'
STRONGSWAN_CONF = '''charon {
  load = random nonce aes sha1 sha2 hmac kdf pem pkcs1 pkcs8 x509 pubkey gmp openssl constraints socket-default kernel-libipsec kernel-netlink updown vici attr
  plugins {
    vici { socket = unix://%(vici)s }
    # the IKE socket marks its packets so kernel-libipsec's routes never catch them
    kernel-netlink { fwmark = !0x42 }
    socket-default { fwmark = 0x42 }
    # the tunnel's traffic selector is the server's own address, which also carries IKE
    kernel-libipsec { allow_peer_ts = yes }
  }
  filelog { stderr { default = 1 } }
}
'''
_SWANCTL_PSK = '''secrets {
  ike-lab {
    id-1 = laptop-ss-01
    id-2 = server
    secret = "roamscan-lab-psk-not-secret"
  }
}
'''
SWANCTL_SERVER = '''connections {
  rw {
    local_addrs = %(server)s
    pools = pool
    proposals = aes128-sha256-modp2048
    local {
      auth = psk
      id = server
    }
    remote {
      auth = psk
      id = laptop-ss-01
    }
    children {
      net {
        local_ts = 0.0.0.0/0
        updown = %(updown)s
        esp_proposals = aes128-sha256
      }
    }
  }
}
pools {
  pool {
    addrs = ''' + STRONGSWAN_POOL + '''
  }
}
''' + _SWANCTL_PSK
SWANCTL_CLIENT = '''connections {
  home {
    remote_addrs = %(server)s
    vips = 0.0.0.0
    proposals = aes128-sha256-modp2048
    local {
      auth = psk
      id = laptop-ss-01
    }
    remote {
      auth = psk
      id = server
    }
    children {
      home {
        remote_ts = %(server)s/32
        esp_proposals = aes128-sha256
      }
    }
  }
}
''' + _SWANCTL_PSK
# certificate authentication (the session's VpnCertificates, EC P-256: charon's openssl plugin): the
# server as an admin writes it for the vpn_hook role (no updown: the role's snippet adds it). swanctl
# loads private keys from the private/ folder next to the file it loads.
SWANCTL_SERVER_CERTS = '''connections {
  rw {
    local_addrs = %(server)s
    pools = pool
    proposals = aes128-sha256-ecp256
    # one road warrior per identity, several per client address
    unique = never
    local {
      auth = pubkey
      certs = %(server_cert)s
    }
    remote {
      auth = pubkey
      cacerts = %(ca)s
    }
    children {
      net {
        local_ts = 0.0.0.0/0
        esp_proposals = aes128-sha256
      }
    }
  }
}
pools {
  pool {
    addrs = ''' + STRONGSWAN_POOL + '''
  }
}
'''
SWANCTL_CLIENT_CERT = '''connections {
  %(name)s {
    remote_addrs = %(server)s
    vips = 0.0.0.0
    proposals = aes128-sha256-ecp256
    local {
      auth = pubkey
      certs = %(cert)s
    }
    remote {
      auth = pubkey
      cacerts = %(ca)s
    }
    children {
      %(name)s {
        remote_ts = %(server)s/32
        esp_proposals = aes128-sha256
      }
    }
  }
}
'''
# the lab server's auth-user-pass-verify: accept every user name (the hook, not auth, is under test)
ACCEPT_ANY_USER = '#!/bin/sh\nexit 0\n'


def run_command(argv):
    """AnsibleModule.run_command's contract for the table readers: (rc, stdout, stderr) as text."""
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=30, check=False, env={'LC_ALL': 'C', 'PATH': CLEAN_ENV['PATH']})
    return proc.returncode, proc.stdout, proc.stderr


def openssl(*argv, cwd):
    proc = subprocess.run(['openssl', *argv], cwd=cwd, capture_output=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise AssertionError('openssl %s failed: %s' % (argv[0], proc.stderr.decode(errors='replace')[-1000:]))


class VpnCertificates:
    """A throw-away CA (EC P-256) with a server certificate for ``server_ip`` and one client
    certificate per name in ``clients`` (the name is the subject CN, any bytes openssl accepts).
    ``client(name)`` returns (cert, key) paths."""

    def __init__(self, directory, server_ip, clients):
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o755)
        self.ca = self.directory / 'ca.crt'
        self.server_cert = self.directory / 'server.crt'
        self.server_key = self.directory / 'server.key'
        self._clients = {}
        self._ca_key = self.directory / 'ca.key'
        openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
                '-keyout', self._ca_key.name, '-out', self.ca.name, '-days', '2', '-subj', '/CN=roamscan-test-ca',
                cwd=self.directory)
        self._issue('server', '/CN=roamscan-test-vpn-server',
                    'extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\nsubjectAltName=IP:%s\n' % server_ip)
        for index, name in enumerate(clients):
            stem = 'client%d' % index
            self._issue(stem, '/CN=' + self._subject_escape(name),
                        'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n')
            self._clients[name] = (self.directory / (stem + '.crt'), self.directory / (stem + '.key'))
        for path in self.directory.iterdir():
            # the servers drop privileges only after reading their keys; readable for the lab users
            os.chmod(path, 0o644)

    @staticmethod
    def _subject_escape(name):
        # openssl -subj: '/' and '+' separate RDNs, a backslash escapes
        return name.replace('\\', '\\\\').replace('/', '\\/').replace('+', '\\+')

    def _issue(self, stem, subject, extensions):
        ext = self.directory / (stem + '.ext')
        ext.write_text(extensions)
        openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', stem + '.key',
                '-out', stem + '.csr', '-subj', subject, '-utf8', cwd=self.directory)
        openssl('x509', '-req', '-in', stem + '.csr', '-CA', self.ca.name, '-CAkey', self._ca_key.name,
                '-CAcreateserial', '-out', stem + '.crt', '-days', '2', '-extfile', ext.name, cwd=self.directory)

    def client(self, name):
        return self._clients[name]


def deploy_vpn_hook(run_ansible, workdir, root, hosts):
    """The vpn_hook role (real ansible-playbook) under the path prefix ``root``, services untouched: one inventory
    host (all local) per entry of ``hosts`` (name -> role variables), so ansible runs them side by side."""
    inventory = workdir / 'inventory.json'
    inventory.write_text(json.dumps({'all': {'hosts': {
        name: dict(variables, vpn_hook_root=str(root), vpn_hook_manage_service=False, ansible_connection='local',
                   ansible_python_interpreter=sys.executable)
        for name, variables in hosts.items()}}}))
    playbook = workdir / 'deploy.yml'
    playbook.write_text(json.dumps([{'hosts': 'all', 'gather_facts': False, 'roles': [{'role': 'roamscan.qualys.vpn_hook'}]}]))
    proc = run_ansible('ansible-playbook', '-i', str(inventory), '--forks', '3', str(playbook))
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc


class VpnClient(Process):
    """A VPN client process; ``wait_connected`` waits for the client's own "connected" line and
    ``assigned_ip`` is the tunnel address the server gave it (from the client's log)."""

    def __init__(self, name, popen, log, client_ns, marker, address_pattern):
        super().__init__(name, popen, log)
        self.namespace = client_ns
        self._marker = marker
        self._address = re.compile(address_pattern)

    def wait_connected(self, timeout=20):
        self.wait_for_output(self._marker, timeout)
        return self

    @property
    def assigned_ip(self):
        found = self._address.search(self.output())
        return found.group(1) if found else None

    def disconnect(self, timeout=10):
        """SIGTERM: openvpn sends its exit notification, openconnect logs out (BYE)."""
        self.stop(timeout=timeout)


class VpnLab(NamespaceLab):
    """Server and client namespace joined by one veth pair."""

    SERVER_IP = '10.87.0.1'
    CLIENT_IP = '10.87.0.2'

    def __init__(self, workdir, certs, namespace_prefix='rsv'):
        self.workdir = Path(workdir)
        self.certs = certs
        self.token = namespace_prefix + secrets.token_hex(3)
        self.server_ns = self.token + 's'
        self.client_ns = self.token + 'c'
        self.processes = []
        self._clients = 0

    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        try:
            for namespace in (self.server_ns, self.client_ns):
                run('ip', 'netns', 'add', namespace)
                run('ip', '-n', namespace, 'link', 'set', 'lo', 'up')
            run('ip', 'link', 'add', 'eth0', 'netns', self.server_ns, 'type', 'veth', 'peer', 'name', 'eth0',
                'netns', self.client_ns)
            for namespace, address in ((self.server_ns, self.SERVER_IP), (self.client_ns, self.CLIENT_IP)):
                run('ip', '-n', namespace, 'addr', 'add', address + '/24', 'dev', 'eth0')
                run('ip', '-n', namespace, 'link', 'set', 'eth0', 'up')
        except BaseException:
            self.close()
            raise
        return self

    def namespaces(self):
        return [self.client_ns, self.server_ns]

    def plug_home(self, namespace, address='10.86.0.2', server_side='10.86.0.1'):
        """A laptop's home network: a veth from the server namespace (``server_side``/24) into ``namespace``
        (``address``/24 on ``home0``) and a route to SERVER_IP over it, so a client there reaches the server as
        from the Internet."""
        port = 'home' + address.rsplit('.', 1)[1]
        run('ip', 'link', 'add', port, 'netns', self.server_ns, 'type', 'veth', 'peer', 'name', 'home0', 'netns', namespace)
        for where, device, mine in ((self.server_ns, port, server_side), (namespace, 'home0', address)):
            run('ip', '-n', where, 'addr', 'add', mine + '/24', 'dev', device)
            run('ip', '-n', where, 'link', 'set', device, 'up')
        run('ip', '-n', namespace, 'route', 'replace', self.SERVER_IP + '/32', 'via', server_side)

    # -- processes
    def _write(self, name, text, mode=0o644):
        path = self.workdir / name
        path.write_text(text)
        os.chmod(path, mode)
        return path

    def prove_tunnel(self, client_ip, server_ip, timeout=10):
        """A TCP connection from the client namespace to ``server_ip`` (a tunnel address on the
        server) that must arrive from ``client_ip``: proof that packets cross the tunnel."""
        listener = (
            'import socket,sys\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n'
            's.bind((sys.argv[1],7777))\ns.listen(1)\nprint("listening",flush=True)\ns.settimeout(%d)\n'
            'c,a=s.accept()\nprint("peer",a[0],flush=True)\n' % timeout)
        server = self.spawn('tunnel-listener-%s' % server_ip, self.server_ns, [sys.executable, '-c', listener, server_ip])
        server.wait_for_output('listening', timeout)
        connect = 'import socket,sys\nsocket.create_connection((sys.argv[1],7777),timeout=%d).close()\n' % timeout
        run('ip', 'netns', 'exec', self.client_ns, sys.executable, '-c', connect, server_ip)
        wait_until(lambda: 'peer' in server.output() or not server.alive(), timeout, what='the tunnel listener')
        server.popen.wait(timeout)
        assert 'peer %s' % client_ip in server.output(), server.output()

    # -- OpenVPN
    def openvpn_config(self, hook=None, status_file=None, port=1194, network=OPENVPN_NET, extra=()):
        """Text of a real OpenVPN 2.6 server configuration (``--server <network>.0/24``, topology
        subnet, UDP, keepalive 2 s so the server rewrites its status file often) with
        client-connect/-disconnect ``hook``, status v3 every second, and user
        names accepted when a client sends them (any name: the hook, not auth, is under test)."""
        accept = self._write('accept-any-user', ACCEPT_ANY_USER, 0o755)
        lines = [
            'dev tun', 'proto udp', 'local %s' % self.SERVER_IP, 'port %d' % port,
            'server %s.0 255.255.255.0' % network, 'topology subnet',
            'ca %s' % self.certs.ca, 'cert %s' % self.certs.server_cert, 'key %s' % self.certs.server_key,
            'dh none', 'keepalive 2 10', 'duplicate-cn', 'verb 3',
            'script-security 2', 'auth-user-pass-verify %s via-file' % accept, 'auth-user-pass-optional',
        ]
        if hook:
            lines += ['client-connect %s' % hook, 'client-disconnect %s' % hook]
        if status_file:
            lines += ['status %s 1' % status_file, 'status-version 3']
        return '\n'.join(lines + list(extra)) + '\n'

    def start_openvpn(self, config_file, name='openvpn-server'):
        """The OpenVPN server of ``config_file``; returns after 'Initialization Sequence Completed'.
        Its tmp-dir (auth-user-pass via-file) is a sticky world-writable directory of the lab, so a
        configuration with ``user nobody`` works."""
        tmp = self.workdir / (name + '-tmp')
        tmp.mkdir(exist_ok=True)
        os.chmod(tmp, 0o1777)
        argv = ['openvpn', '--cd', str(self.workdir), '--tmp-dir', str(tmp), '--config', str(config_file)]
        server = self.spawn(name, self.server_ns, argv)
        server.wait_for_output('Initialization Sequence Completed')
        return server

    def openvpn_client(self, cert_name, username=None, password='unused', configure_tunnel=True, port=1194, name=None,
                       namespace=None):
        """A real openvpn client with the certificate of ``cert_name`` (and ``username`` via
        auth-user-pass when given), in the lab's client namespace or ``namespace`` (one ``plug_home`` joined).
        ``configure_tunnel=False`` leaves the tun device unconfigured (``--ifconfig-noexec --route-noexec``) so
        several clients can share the namespace."""
        self._clients += 1
        name = name or 'openvpn-client-%d' % self._clients
        cert, key = self.certs.client(cert_name)
        argv = ['openvpn', '--client', '--dev', 'tun', '--proto', 'udp', '--remote', self.SERVER_IP, str(port), '--nobind',
                '--ca', str(self.certs.ca), '--cert', str(cert), '--key', str(key), '--remote-cert-tls', 'server',
                '--explicit-exit-notify', '1', '--push-peer-info', '--verb', '3']
        if username is not None:
            credentials = self.workdir / ('%s.auth' % name)
            credentials.write_bytes(os.fsencode(username) + b'\n' + password.encode() + b'\n')
            os.chmod(credentials, 0o600)
            argv += ['--auth-user-pass', str(credentials)]
        if not configure_tunnel:
            argv += ['--ifconfig-noexec', '--route-noexec']
        namespace = namespace or self.client_ns
        return self.spawn(name, namespace, argv, cls=VpnClient, client_ns=namespace,
                          marker='Initialization Sequence Completed', address_pattern=r'PUSH_REPLY,.*?ifconfig ([0-9.]+) ')

    # -- ocserv / openconnect
    def ocserv_config(self, users, hook=None, name='ocserv'):
        """Text of a real ocserv configuration with password auth from an ocpasswd file written by
        ``ocpasswd`` for ``users`` ({name: password}, names str or bytes) and connect-/disconnect-script
        ``hook``; occtl listens on ``self.occtl_socket``."""
        passwd = self.workdir / (name + '.passwd')
        passwd.touch(mode=0o600)
        for user, password in users.items():
            subprocess.run(['ocpasswd', '-c', str(passwd), os.fsencode(user)], input=('%s\n%s\n' % (password, password)).encode(),
                           check=True, capture_output=True, timeout=30)
        self.occtl_socket = self.workdir / (name + '-occtl.sock')
        lines = [
            'auth = "plain[passwd=%s]"' % passwd, 'listen-host = %s' % self.SERVER_IP, 'tcp-port = 4443',
            'udp-port = 4443', 'run-as-user = nobody', 'run-as-group = nogroup',
            'socket-file = %s' % (self.workdir / (name + '.sock')), 'server-cert = %s' % self.certs.server_cert,
            'server-key = %s' % self.certs.server_key, 'ca-cert = %s' % self.certs.ca, 'isolate-workers = false',
            'max-clients = 32', 'max-same-clients = 0', 'keepalive = 30', 'dpd = 30', 'mobile-dpd = 30',
            'try-mtu-discovery = false', 'tls-priorities = "NORMAL:%SERVER_PRECEDENCE"', 'auth-timeout = 60',
            'cookie-timeout = 60', 'deny-roaming = false', 'use-occtl = true',
            'occtl-socket-file = %s' % self.occtl_socket, 'pid-file = %s' % (self.workdir / (name + '.pid')),
            'device = vpns', 'predictable-ips = true', 'ipv4-network = %s.0' % OCSERV_NET,
            'ipv4-netmask = 255.255.255.0',
        ]
        if hook:
            lines += ['connect-script = %s' % hook, 'disconnect-script = %s' % hook]
        return '\n'.join(lines) + '\n'

    def start_ocserv(self, config_file, name='ocserv'):
        """The ocserv of ``config_file`` (checked with --test-config first), in the foreground."""
        run('ocserv', '--test-config', '--config', str(config_file))
        server = self.spawn(name, self.server_ns, ['ocserv', '--foreground', '--config', str(config_file)])
        server.wait_for_output('listening (TCP) on %s:4443' % self.SERVER_IP)
        return server

    def occtl(self, *argv):
        return run('ip', 'netns', 'exec', self.server_ns, 'occtl', '--socket-file', str(self.occtl_socket), *argv)

    def openconnect(self, user, password, hostname=None, name=None):
        """A real openconnect client logging in as ``user`` (str or bytes); ``hostname`` is the
        name it reports (``--local-hostname``, client-supplied)."""
        self._clients += 1
        name = name or 'openconnect-%d' % self._clients
        script = self._write('openconnect-script', OPENCONNECT_SCRIPT, 0o755)
        argv = ['openconnect', '--protocol=anyconnect', '--cafile=%s' % self.certs.ca, b'--user=' + os.fsencode(user),
                '--passwd-on-stdin', '--non-inter', '--script=%s' % script, '--interface=%s' % ('oc%d' % self._clients)]
        if hostname is not None:
            argv.append(b'--local-hostname=' + os.fsencode(hostname))
        argv.append('https://%s:4443' % self.SERVER_IP)
        return self.spawn(name, self.client_ns, argv, cls=VpnClient, stdin=password.encode() + b'\n',
                          client_ns=self.client_ns, marker='Configured as ', address_pattern=r'Configured as ([0-9.]+),')

    # -- strongSwan (charon with kernel-libipsec: ESP in userspace over TUN, no kernel ESP needed)
    def write_strongswan_server_config(self, directory):
        """``directory``/swanctl.conf for the server with certificate authentication (SWANCTL_SERVER_CERTS)
        and its key in ``directory``/private; returns the file."""
        (directory / 'private').mkdir(parents=True, exist_ok=True)
        shutil.copy(self.certs.server_key, directory / 'private' / 'server.key')
        path = directory / 'swanctl.conf'
        path.write_text(SWANCTL_SERVER_CERTS % {'server': self.SERVER_IP, 'server_cert': self.certs.server_cert,
                                                'ca': self.certs.ca})
        return path

    def start_strongswan(self, updown=None, server_swanctl=None):
        """A real charon on each side (IKEv2): the server hands out virtual IPs from STRONGSWAN_POOL.
        By default both use a PSK, the server runs ``updown`` for each CHILD_SA and the client
        (identity ``laptop-ss-01``) is loaded, not started: ``strongswan_connect()`` initiates.
        With ``server_swanctl`` the server loads that file instead (``strongswan_server_config()``;
        ``strongswan_cert_connect()`` then connects with a client certificate). Each charon gets a
        private /run (its PID file and sockets are not per namespace)."""
        for side, namespace in (('server', self.server_ns), ('client', self.client_ns)):
            directory = self.workdir / ('strongswan-' + side)
            directory.mkdir(exist_ok=True)
            (directory / 'strongswan.conf').write_text(STRONGSWAN_CONF % {'vici': directory / 'charon.vici'})
            if side == 'client' or server_swanctl is None:
                (directory / 'swanctl.conf').write_text(
                    SWANCTL_SERVER % {'server': self.SERVER_IP, 'updown': updown} if side == 'server'
                    else SWANCTL_CLIENT % {'server': self.SERVER_IP})
            charon = self.spawn('charon-' + side, namespace, [
                'unshare', '--mount', 'sh', '-c', 'mount -t tmpfs roamscan-charon-run /run && exec "$@"', 'charon',
                'env', 'STRONGSWAN_CONF=%s' % (directory / 'strongswan.conf'), '/usr/lib/ipsec/charon'])
            wait_until(lambda d=directory: (d / 'charon.vici').exists(), 15, what='the vici socket of charon-' + side)
            assert charon.alive(), charon.output()
            loaded = server_swanctl if side == 'server' and server_swanctl else directory / 'swanctl.conf'
            self.swanctl(side, '--load-all', '--file', str(loaded))

    @property
    def strongswan_vici(self):
        """The server charon's vici socket (what the session-table reader reads)."""
        return str(self.workdir / 'strongswan-server' / 'charon.vici')

    def strongswan_cert_connect(self, cert_name, timeout=20):
        """Load a client connection authenticating with ``cert_name``'s certificate and initiate it;
        returns ``(connection, virtual IP)``. ``swanctl('client', '--terminate', '--ike', connection)`` ends it."""
        self._clients += 1
        name = 'cert%d' % self._clients
        cert, key = self.certs.client(cert_name)
        directory = self.workdir / 'strongswan-client'
        (directory / 'private').mkdir(exist_ok=True)
        shutil.copy(key, directory / 'private' / ('%s.key' % name))
        path = directory / ('%s.conf' % name)
        path.write_text(SWANCTL_CLIENT_CERT % {'name': name, 'server': self.SERVER_IP, 'cert': cert, 'ca': self.certs.ca})
        self.swanctl('client', '--load-all', '--file', str(path))
        output = self.swanctl('client', '--initiate', '--child', name, '--timeout', str(timeout)).stdout
        assert 'initiate completed successfully' in output, output
        return name, re.search(r'installing new virtual IP ([0-9.]+)', output).group(1)

    def swanctl(self, side, *argv):
        return run('swanctl', *argv, '--uri', 'unix://%s' % (self.workdir / ('strongswan-' + side) / 'charon.vici'))

    def strongswan_connect(self):
        """Initiate the client's CHILD_SA; returns the virtual IP the server assigned."""
        output = self.swanctl('client', '--initiate', '--child', 'home', '--timeout', '20').stdout
        assert 'initiate completed successfully' in output, output
        return re.search(r'installing new virtual IP ([0-9.]+)', output).group(1)

    # -- WireGuard (wireguard-go)
    def start_wireguard(self, peers=1):
        """wireguard-go on both sides: server ``<token>w`` at 10.90.0.1 listening on 51820 and one
        client interface per peer (10.90.0.2, .3, ...) with its own key, allowed-ips <ip>/32 on the
        server. Returns a WireGuard describing both ends (keys are files in the lab directory)."""
        return WireGuard(self, peers).start()


class WireGuard:
    """Both ends of a wireguard-go lab; ``handshake(index)`` sends traffic so a handshake happens."""

    def __init__(self, lab, peers):
        self.lab = lab
        self.server_if = lab.token + 'w'
        self.peer_ifs = ['%sp%d' % (lab.token, i) for i in range(peers)]
        self.server_ip = WIREGUARD_NET + '.1'
        self.peer_ips = ['%s.%d' % (WIREGUARD_NET, i + 2) for i in range(peers)]
        self.keys = {}

    def _key(self, name):
        private = self.lab.workdir / ('%s.key' % name)
        private.write_bytes(run('wg', 'genkey').stdout.encode())
        os.chmod(private, 0o600)
        public = subprocess.run(['wg', 'pubkey'], input=private.read_bytes(), capture_output=True, check=True).stdout
        self.keys[name] = (private, public.decode().strip())
        return self.keys[name]

    def _interface(self, namespace, interface, address):
        process = self.lab.spawn('wireguard-go-' + interface, namespace, ['wireguard-go', '--foreground', interface],
                                 env={'WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD': '1'})
        wait_until(lambda: Path('/var/run/wireguard/%s.sock' % interface).exists() or not process.alive(), 10,
                   what='the UAPI socket of %s' % interface)
        assert process.alive(), process.output()
        run('ip', '-n', namespace, 'addr', 'add', address, 'dev', interface)
        run('ip', '-n', namespace, 'link', 'set', interface, 'up')

    def start(self):
        lab = self.lab
        server_private, self.server_public = self._key('server')
        self._interface(lab.server_ns, self.server_if, self.server_ip + '/24')
        run('ip', 'netns', 'exec', lab.server_ns, 'wg', 'set', self.server_if, 'listen-port', '51820',
            'private-key', str(server_private))
        for interface, address in zip(self.peer_ifs, self.peer_ips):
            private, public = self._key(interface)
            run('ip', 'netns', 'exec', lab.server_ns, 'wg', 'set', self.server_if, 'peer', public,
                'allowed-ips', address + '/32')
            # several peers share the client namespace: each has its own /32 and its own route to the
            # server (metric per peer); handshake() binds to the peer's device to pick its route
            self._interface(lab.client_ns, interface, address + '/32')
            run('ip', '-n', lab.client_ns, 'route', 'add', self.server_ip + '/32', 'dev', interface,
                'metric', str(100 + len(self.keys)))
            run('ip', 'netns', 'exec', lab.client_ns, 'wg', 'set', interface, 'private-key', str(private), 'peer',
                self.server_public, 'allowed-ips', self.server_ip + '/32',
                'endpoint', '%s:51820' % lab.SERVER_IP)
        return self

    def peer_public(self, index):
        return self.keys[self.peer_ifs[index]][1]

    def handshake(self, index):
        """Traffic from peer ``index`` to the server through the tunnel (bound to that peer's
        address), then wait for the server to report the handshake."""
        send = ('import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n'
                's.setsockopt(socket.SOL_SOCKET,socket.SO_BINDTODEVICE,sys.argv[1].encode())\n'
                's.sendto(b"hello",(sys.argv[2],9))\n')
        run('ip', 'netns', 'exec', self.lab.client_ns, sys.executable, '-c', send, self.peer_ifs[index], self.server_ip)

        def handshake_time():
            for line in run('wg', 'show', self.server_if, 'latest-handshakes').stdout.splitlines():
                key, _tab, epoch = line.partition('\t')
                if key == self.peer_public(index) and epoch.strip() not in ('', '0'):
                    return int(epoch)
            return None
        return wait_until(handshake_time, 10, interval=0.2, what='a WireGuard handshake of peer %d' % index)
