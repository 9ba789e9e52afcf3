# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Real log forwarders for tests (root): a collector namespace and a sender namespace joined by a veth pair.

LogLab starts, by PID, what runs on either side: a real rsyslogd receiving UDP syslog into a file,
a real syslog-ng following a file and posting each line with its http() destination, and the
presence receiver (receiver_lab.ReceiverLab). Leaving the ``with`` block stops them and deletes the
namespaces. Namespace names carry a random token, so parallel runs never collide.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from pathlib import Path

from netns import NamespaceLab, run, wait_until

# rsyslog and syslog-ng-core conflict as Debian packages (both provide system-log-daemon); the real
# rsyslogd comes from its .deb unpacked here by scripts/install-system-deps.
RSYSLOG_ROOT = Path(os.environ.get('ROAMSCAN_RSYSLOG_ROOT', '/opt/roamscan-rsyslog'))
RSYSLOGD = RSYSLOG_ROOT / 'usr' / 'sbin' / 'rsyslogd'
RSYSLOG_MODULES = RSYSLOG_ROOT / 'usr' / 'lib' / 'x86_64-linux-gnu' / 'rsyslog'


def require_tools(*tools):
    """Fail (not skip) when a real part is missing: CI installs them all."""
    for tool in tools:
        if tool == 'rsyslogd' and not RSYSLOGD.exists():
            raise AssertionError('%s missing: run scripts/install-system-deps' % RSYSLOGD)
        if tool != 'rsyslogd' and shutil.which(tool) is None:
            raise AssertionError('%s missing: run scripts/install-system-deps' % tool)


def checked(argv):
    """Run a daemon's own configuration check; AssertionError with its output when it refuses."""
    check = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr


class LogLab(NamespaceLab):
    """Namespaces ``<prefix><token>-c`` (collector, ``collector_ip``) and ``<prefix><token>-s`` (sender, ``sender_ip``)."""

    def __init__(self, workdir, prefix, collector_ip, sender_ip):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        token = secrets.token_hex(3)
        self.collector_ns, self.sender_ns = '%s%s-c' % (prefix, token), '%s%s-s' % (prefix, token)
        self.collector_ip, self.sender_ip = collector_ip, sender_ip
        self.processes = []

    def namespaces(self):
        return [self.collector_ns, self.sender_ns]

    def __enter__(self):
        for namespace in self.namespaces():
            run('ip', 'netns', 'add', namespace)
        try:
            run('ip', 'link', 'add', 'col0', 'netns', self.collector_ns, 'type', 'veth', 'peer', 'name', 'snd0',
                'netns', self.sender_ns)
            for namespace, device, address in ((self.collector_ns, 'col0', self.collector_ip),
                                               (self.sender_ns, 'snd0', self.sender_ip)):
                run('ip', '-n', namespace, 'addr', 'add', address + '/24', 'dev', device)
                run('ip', '-n', namespace, 'link', 'set', device, 'up')
                run('ip', '-n', namespace, 'link', 'set', 'lo', 'up')
        except BaseException:
            self.close()
            raise
        return self

    def in_namespace(self, namespace):
        return ['ip', 'netns', 'exec', namespace]

    def _running(self, process):
        time.sleep(1)
        assert process.alive(), '%s exited:\n%s' % (process.name, process.output()[-2000:])
        return process

    def start_receiver(self, receiver):
        """The presence receiver (a ReceiverLab listening on ``collector_ip``) in the collector namespace."""
        self.processes.append(receiver.start(self.in_namespace(self.collector_ns)))
        return receiver

    def start_rsyslog(self, log):
        """rsyslogd in the collector namespace: UDP syslog on ``collector_ip``:514 into ``log`` (RSYSLOG_FileFormat)."""
        base = Path(log).parent
        (base / 'rsyslog-work').mkdir(parents=True, exist_ok=True)
        config = base / 'rsyslog.conf'
        config.write_text('global(workDirectory="%s")\nmodule(load="imudp")\ninput(type="imudp" address="%s" port="514")\n'
                          '*.* action(type="omfile" file="%s" template="RSYSLOG_FileFormat")\n'
                          % (base / 'rsyslog-work', self.collector_ip, log))
        checked([str(RSYSLOGD), '-N1', '-f', str(config), '-M', str(RSYSLOG_MODULES)])
        return self._running(self.spawn('rsyslogd', self.collector_ns, [
            str(RSYSLOGD), '-n', '-f', str(config), '-M', str(RSYSLOG_MODULES), '-i', str(base / 'rsyslogd.pid')]))

    def send_udp_syslog(self, tag, message):
        """The sender namespace sends one RFC 3164 syslog line over UDP to the collector's rsyslogd."""
        run('ip', 'netns', 'exec', self.sender_ns, 'logger', '--udp', '--server', self.collector_ip, '--port', '514',
            '--rfc3164', '-t', tag, message)

    def start_syslog_ng(self, source, url, bearer_token):
        """syslog-ng (``syslog_ng_command``) in the sender namespace."""
        return self._running(self.spawn('syslog-ng', self.sender_ns,
                                        syslog_ng_command(Path(source).parent / 'syslog-ng', source, url, bearer_token)))


def syslog_ng_command(base, source, url, bearer_token, content_type='text/plain', tls=None):
    """The argv of a syslog-ng (foreground) that follows file ``source`` and posts each line (``${MESSAGE}``, the whole
    line: ``flags(no-parse)``) to ``url`` with its http() destination and ``Authorization: Bearer``; ``tls``: (CA file,
    client certificate, client key). Its configuration, checked by syslog-ng itself, and state go to ``base``."""
    base = Path(base)
    base.mkdir(parents=True, exist_ok=True)
    Path(source).touch()
    tls_option = ('tls(ca-file("%s") cert-file("%s") key-file("%s") peer-verify(yes))' % tuple(tls)) if tls else ''
    config = base / 'syslog-ng.conf'
    config.write_text('''@version: 3.38
options { stats_freq(0); };
source s_vpn { file("%s" follow-freq(0.2) flags(no-parse)); };
destination d_receiver {
  http(url("%s") method("POST")
       headers("Authorization: Bearer %s", "Content-Type: %s") %s
       body("${MESSAGE}") batch-lines(20) batch-timeout(300) timeout(10));
};
log { source(s_vpn); destination(d_receiver); };
''' % (source, url, bearer_token, content_type, tls_option))
    config.chmod(0o600)   # it holds the token
    checked(['syslog-ng', '--syntax-only', '-f', str(config)])
    return ['syslog-ng', '-F', '--no-caps', '-f', str(config), '-R', str(base / 'persist'), '-p', str(base / 'pid'),
            '-c', str(base / 'ctl')]


def append_lines(path, lines):
    """A concentrator's log lines appended to ``path`` (what a forwarder follows)."""
    with open(path, 'a', encoding='utf-8') as handle:
        handle.write(''.join(line + '\n' for line in lines))


def wait_for_lines(read, count, what, timeout=120):
    """Wait (generously: CI runs suites side by side) until ``read()`` returns at least ``count`` lines."""
    return wait_until(lambda: len(read()) >= count, timeout, interval=0.2, what=what)


def iso_stamp(epoch):
    """A syslog ISO-8601 timestamp (syslog-ng ``ISODATE``, rsyslog ``RSYSLOG_FileFormat``) of ``epoch``, UTC."""
    return time.strftime('%Y-%m-%dT%H:%M:%S+00:00', time.gmtime(epoch))


def asa_722051_line(epoch, user, tunnel_ip, host='asa1'):
    """A Cisco ASA AnyConnect session's address assignment (722051), logged at ``epoch``."""
    return ('%s %s : %%ASA-4-722051: Group <sslvpn> User <%s> IP <192.0.2.250> IPv4 Address <%s> IPv6 address <::> '
            'assigned to session' % (iso_stamp(epoch), host, user, tunnel_ip))


def asa_113019_line(epoch, user, host='asa1'):
    """A Cisco ASA session's end (113019), logged at ``epoch``: it names the user and the client's public address,
    not the tunnel IP."""
    return ('%s %s : %%ASA-4-113019: Group = sslvpn, Username = %s, IP = 192.0.2.250, Session disconnected. Session '
            'Type: SSL, Duration: 0h:01m:02s, Bytes xmt: 18775, Bytes rcv: 768481, Reason: User Requested'
            % (iso_stamp(epoch), host, user))


def globalprotect_line(epoch, event_id, user, tunnel_ip, machine='LAPTOP-17', host='pa1'):
    """A Palo Alto GlobalProtect log line (CSV, PAN-OS 11.0 field order) of event ``event_id`` (gateway-connected,
    gateway-logout, ...) at ``epoch``: source user ``ROAM\\<user>``, private IP ``tunnel_ip``."""
    panos = time.strftime('%Y/%m/%d %H:%M:%S', time.gmtime(epoch))
    return ('%s %s 1,%s,123456789999,GLOBALPROTECT,0,2305,%s,vsys1,%s,tunnel,,IPSec,ROAM\\%s,DE,%s,175.16.199.1,0.0.0.0,'
            '%s,0.0.0.0,96c43d47-8bb5-4f78-8dfc-413a189a29e0,SERIAL17,5.1.1,OS,"OS 10 Enterprise, 64-bit",1,,,,success,,0,,0,'
            'GPGateway,6894571632887761989,0x8000000000000000'
            % (iso_stamp(epoch), host, panos, panos, event_id, user, machine, tunnel_ip))
