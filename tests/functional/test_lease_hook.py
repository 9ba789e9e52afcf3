# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-server lease hooks as the three servers call them (argv/env from reference/dhcp-servers.md),
read back with the collection's own reader, _spool_record.parse_spool_line. No root needed: each
hook is a plain POSIX sh script."""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from collection_import import module_utils
from hook import SERVERS, render_hook

spool_record = module_utils('_spool_record')

EVIL = 'x;touch {marker};$(id)'
EVIL_QUOTES = 'a,b"c\'d`touch {marker}`e'
EVIL_NEWLINE = 'line1\nrs2 forged 1 1 kea lease mac 02:00:00:00:00:01 10.9.9.9 - - - .'
MAC1, MAC2 = '02:77:00:00:0a:01', '02:77:00:00:0b:02'


@pytest.fixture
def hook(tmp_path):
    """The three servers' hooks, appending to one spool: hook.kea(*argv, env=...), hook.dhcpd(...), hook.dnsmasq(...)."""
    spool = tmp_path / 'spool'
    spool.mkdir()
    scripts = {server: render_hook(tmp_path / ('roamscan-lease-hook-' + server), spool, server) for server in SERVERS}

    def run(server, *argv, env=None):
        # Kea passes ONLY its own variables (no PATH); the others pass their environment
        proc = subprocess.run([str(scripts[server]), *argv], env=env or {}, capture_output=True, timeout=10,
                              check=False)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b'', b'')
        return proc

    def records():
        path = spool / 'current'
        if not path.exists():
            return []
        return [spool_record.parse_spool_line(line) for line in path.read_text().split('\n') if line]

    run.spool = spool
    run.scripts = scripts
    run.marker = tmp_path / 'pwned'
    run.records = records
    for server in SERVERS:
        setattr(run, server, functools.partial(run, server))
    return run


def kea_lease_env(prefix, ip, mac, hostname='', cltt=1795847908, valid=30, state='default'):
    return {prefix + '_ADDRESS': ip, prefix + '_HWADDR': mac, prefix + '_HOSTNAME': hostname,
            prefix + '_CLTT': str(cltt), prefix + '_VALID_LIFETIME': str(valid), prefix + '_STATE': state,
            prefix + '_HWADDR_TYPE': '1', prefix + '_CLIENT_ID': '01:' + mac, prefix + '_SUBNET_ID': '1'}


def kea_committed_env(ip, mac, hostname=''):
    env = {'LEASES4_SIZE': '1', 'DELETED_LEASES4_SIZE': '0', 'QUERY4_TYPE': 'DHCPREQUEST', 'QUERY4_CIADDR': '0.0.0.0'}
    env.update(kea_lease_env('LEASES4_AT0', ip, mac, hostname))
    return env


def unpadded(mac):
    """The MAC as dhcpd's binary-to-ascii(16, 8, ":", ...) passes it."""
    return ':'.join('%x' % int(octet, 16) for octet in mac.split(':'))


def new_lease(server, ip, mac, hostname):
    """(argv, env) with which ``server`` reports a new lease to its hook."""
    if server == 'kea':
        return ['leases4_committed'], kea_committed_env(ip, mac, hostname)
    if server == 'dhcpd':
        return ['dhcpd', 'commit', ip, unpadded(mac), hostname, '30', '0.0.0.0'], {'PATH': '/usr/bin:/bin'}
    return ['add', mac, ip], {'DNSMASQ_SUPPLIED_HOSTNAME': hostname, 'DNSMASQ_LEASE_EXPIRES': '1795848217',
                              'PATH': '/usr/bin:/bin'}


def kv(record):
    return (record.server, record.kind, record.mac, record.ip, record.hostname, record.lease_expires)


def test_kea_committed_new_renew_and_address_change(hook):
    new = kea_committed_env('10.77.0.100', MAC1, 'laptop-1')
    hook.kea('leases4_committed', env=new)
    renew = dict(new, QUERY4_CIADDR='10.77.0.100')
    hook.kea('leases4_committed', env=renew)
    moved = dict(new, DELETED_LEASES4_SIZE='1', LEASES4_AT0_ADDRESS='10.77.0.101')
    moved.update(kea_lease_env('DELETED_LEASES4_AT0', '10.77.0.100', MAC1, 'laptop-1'))
    hook.kea('leases4_committed', env=moved)
    assert [kv(r) for r in hook.records()] == [
        ('kea', 'lease', MAC1, '10.77.0.100', 'laptop-1', '2026-11-28T06:38:58Z'),
        ('kea', 'renew', MAC1, '10.77.0.100', 'laptop-1', '2026-11-28T06:38:58Z'),
        ('kea', 'lease', MAC1, '10.77.0.101', 'laptop-1', '2026-11-28T06:38:58Z'),
        ('kea', 'release', MAC1, '10.77.0.100', 'laptop-1', '2026-11-28T06:38:58Z'),
    ]


def test_kea_release_decline_expire_and_ignored_calls(hook):
    release_commit = {'LEASES4_SIZE': '0', 'DELETED_LEASES4_SIZE': '1', 'QUERY4_TYPE': 'DHCPRELEASE'}
    release_commit.update(kea_lease_env('DELETED_LEASES4_AT0', '10.77.0.100', MAC1))
    hook.kea('leases4_committed', env=release_commit)  # recorded by lease4_release instead
    hook.kea('lease4_release', env=kea_lease_env('LEASE4', '10.77.0.100', MAC1))
    declined = {'LEASES4_SIZE': '1', 'DELETED_LEASES4_SIZE': '0', 'QUERY4_TYPE': 'DHCPDECLINE'}
    declined.update(kea_lease_env('LEASES4_AT0', '10.77.0.50', '', state='declined'))
    hook.kea('leases4_committed', env=declined)  # no HWADDR: recorded by lease4_decline
    hook.kea('lease4_decline', env=kea_lease_env('LEASE4', '10.77.0.50', '02:77:00:00:0d:ec'))
    hook.kea('lease4_expire', env=dict(kea_lease_env('LEASE4', '10.77.0.101', MAC2), REMOVE_LEASE='true'))
    hook.kea('lease4_renew', env=dict(kea_lease_env('LEASE4', '10.77.0.101', MAC2), QUERY4_TYPE='DHCPDISCOVER'))
    hook.kea('lease4_recover', env=kea_lease_env('LEASE4', '10.77.0.101', MAC2))
    hook.kea('lease6_renew')
    assert [r.kind for r in hook.records()] == ['release', 'decline', 'expire']
    assert hook.records()[1].mac == '02:77:00:00:0d:ec'


def test_kea_writes_at_most_eight_records_in_one_write(hook):
    # Kea may commit several leases in one call; more than 8 records could exceed PIPE_BUF
    env = {'LEASES4_SIZE': '6', 'DELETED_LEASES4_SIZE': '6', 'QUERY4_CIADDR': '0.0.0.0'}
    for n in range(6):
        env.update(kea_lease_env('LEASES4_AT%d' % n, '10.77.1.%d' % (n + 1), '02:77:00:01:00:%02x' % n, 'e' * 63))
        env.update(kea_lease_env('DELETED_LEASES4_AT%d' % n, '10.77.2.%d' % (n + 1), '02:77:00:02:00:%02x' % n))
    hook.kea('leases4_committed', env=env)
    raw = (hook.spool / 'current').read_bytes()
    assert raw.startswith(b'\n') and raw.count(b'\n') == 9 and len(raw) < 4096
    assert [(r.kind, r.ip) for r in hook.records()] == (
        [('lease', '10.77.1.%d' % (n + 1)) for n in range(6)] + [('release', '10.77.2.1'), ('release', '10.77.2.2')])


def test_dhcpd_argv_unpadded_mac_and_relative_expiry(hook):
    hook.dhcpd('dhcpd', 'commit', '10.77.0.100', '2:77:0:0:a:1', 'laptop-1', '30', '0.0.0.0', env={'PATH': '/usr/bin'})
    hook.dhcpd('dhcpd', 'commit', '10.77.0.100', '2:77:0:0:A:1', '', '30', '10.77.0.100')
    hook.dhcpd('dhcpd', 'release', '10.77.0.100', '2:77:0:0:a:1')
    hook.dhcpd('dhcpd', 'expiry', '10.77.0.101', '2:77:0:0:b:2')
    got = hook.records()
    assert [(r.kind, r.mac, r.hostname) for r in got] == [
        ('lease', MAC1, 'laptop-1'), ('renew', MAC1, None), ('release', MAC1, None), ('expire', MAC2, None)]
    assert got[0].lease_expires is not None and got[2].lease_expires is None
    # the MAC is written normalised (zero-padded, lower case), not only read so
    assert b' mac 02:77:00:00:0a:01 ' in (hook.spool / 'current').read_bytes()


def test_dnsmasq_actions_env_and_unknown_actions(hook):
    env = {'DNSMASQ_LEASE_EXPIRES': '1795848217', 'DNSMASQ_TIME_REMAINING': '120', 'PATH': '/usr/bin'}
    hook.dnsmasq('add', MAC1, '10.77.0.142', env=dict(env, DNSMASQ_SUPPLIED_HOSTNAME='x;y'))
    hook.dnsmasq('old', MAC1, '10.77.0.142', 'renewbox', env=env)
    hook.dnsmasq('del', MAC1, '10.77.0.142', env=env)
    for action in ('tftp', 'init', 'arp-add', 'arp-del', 'relay-snoop'):
        hook.dnsmasq(action, MAC1, '10.77.0.142', env=env)  # init must print nothing either
    got = hook.records()
    assert [(r.kind, r.hostname, r.hostname_hex) for r in got[:2]] == [('lease', None, '783b79'), ('renew', 'renewbox', None)]
    assert len(got) == 3 and got[2].kind in ('release', 'expire')


@pytest.mark.parametrize('server', SERVERS)
def test_each_hook_writes_rs2_records_with_its_server_as_source(hook, server):
    argv, env = new_lease(server, '10.77.0.100', MAC1, 'laptop-1')
    hook(server, *argv, env=env)
    raw = (hook.spool / 'current').read_text()
    assert raw.startswith('\nrs2 ') and raw.endswith(' .\n')
    fields = raw.strip('\n').split(' ')
    assert len(fields) == 13 and fields[4:9] == [server, 'lease', 'mac', MAC1, '10.77.0.100']
    assert fields[9:] == ['laptop-1', {'kea': '1795847938', 'dhcpd': '+30', 'dnsmasq': '1795848217'}[server], '-', '.']
    (record,) = hook.records()
    assert (record.version, record.source, record.id_kind, record.id_value, record.aliases) == (
        'rs2', server, 'mac', MAC1, {})
    assert record.boot_id == open('/proc/sys/kernel/random/boot_id').read().strip() and record.time is not None


@pytest.mark.parametrize('server', SERVERS)
def test_a_hook_records_nothing_for_the_other_servers_calls(hook, server):
    # each server gets only its own hook: another server's interface is not recorded by it
    for other in SERVERS:
        if other != server:
            argv, env = new_lease(other, '10.77.0.100', MAC1, 'laptop-1')
            hook(server, *argv, env=env)
    assert hook.records() == []
    text = hook.scripts[server].read_text()
    foreign = {'kea': ('LEASES4', 'lease4_'), 'dhcpd': ('commit)', 'expiry)'), 'dnsmasq': ('DNSMASQ', 'old)')}
    for other in SERVERS:
        if other != server:
            assert not [word for word in foreign[other] if word in text], (server, other)


@pytest.mark.parametrize('template', [EVIL, EVIL_QUOTES, EVIL_NEWLINE])
def test_hostile_hostnames_are_recorded_hex_encoded_and_never_executed(hook, template):
    name = template.format(marker=hook.marker)
    hook.dhcpd('dhcpd', 'commit', '10.77.0.100', '2:77:0:0:a:1', name, '30', '0.0.0.0', env={'PATH': '/usr/bin:/bin'})
    hook.dnsmasq('add', MAC2, '10.77.0.101', env={'DNSMASQ_SUPPLIED_HOSTNAME': name, 'PATH': '/usr/bin:/bin'})
    hook.kea('leases4_committed', env=kea_committed_env('10.77.0.102', MAC1, name))
    raw = (hook.spool / 'current').read_bytes()
    assert raw.count(b'\nrs2 ') == 3 and b'forged' not in raw and b';' not in raw and b'`' not in raw
    got = hook.records()
    assert len(got) == 3
    for record in got:
        assert record.hostname is None
        assert bytes.fromhex(record.hostname_hex) == name.encode()
    assert not hook.marker.exists()


@pytest.mark.parametrize('server', SERVERS)
def test_long_hostname_is_capped_and_record_stays_small(hook, server):
    argv, env = new_lease(server, '10.77.0.1', MAC1, 'é' * 200)
    hook(server, *argv, env=env)
    record = hook.records()[0]
    assert bytes.fromhex(record.hostname_hex) == ('é' * 48).encode()
    assert len((hook.spool / 'current').read_bytes()) < 400


@pytest.mark.parametrize('server', SERVERS)
def test_host_names_at_the_edges_of_safe_and_of_each_hex_round(hook, server):
    # 63 bytes is the longest safe name; the hex encoder takes four bytes a round, then the rest
    names = ['a' * 63, 'a' * 64, '-a', 'a_b', '.'] + [';' * n for n in range(1, 10)]
    for n, name in enumerate(names):
        argv, env = new_lease(server, '10.77.0.%d' % (n + 1), MAC1, name)
        hook(server, *argv, env=env)
    got = hook.records()
    assert [r.ip for r in got] == ['10.77.0.%d' % (n + 1) for n in range(len(names))]
    assert got[0].hostname == 'a' * 63 and got[0].hostname_hex is None
    assert [bytes.fromhex(r.hostname_hex).decode() for r in got[1:]] == names[1:]


@pytest.mark.parametrize('server, argv, env', [
    ('dhcpd', ('dhcpd', 'commit', '10.77.0.256', '2:77:0:0:a:1', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '010.77.0.1', '2:77:0:0:a:1', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '10.77.0', '2:77:0:0:a:1', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '10.77.0.1.5', '2:77:0:0:a:1', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '10.77.0.1', '2:77:0:0:a', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '10.77.0.1', '2:77:0:0:a:1:3', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '10.77.0.1', '2:77:0:0:a:100', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '10.77.0.1', '2:77::0:a:1', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'commit', '10.77.0.1;id', '2:77:0:0:a:1', '', '30', '0.0.0.0'), None),
    ('dhcpd', ('dhcpd', 'release', '10.77.0.1'), None),
    ('dnsmasq', ('add', '02:77:00:00:0a:01;id', '10.77.0.1'), None),
    ('dnsmasq', ('add', '1-02:77:00:00:0a:01', '10.77.0.1'), None),
    ('dnsmasq', ('add', '02:77:00:00:0a:01', '10.77.0.01'), None),
    ('dnsmasq', ('old', '02:77:00:00:0a:01', '300.77.0.1'), None),
    ('dnsmasq', ('del',), None),
    ('kea', ('leases4_committed',), kea_committed_env('10.77.0.1', '02:77:00:00:0a')),
    ('kea', ('leases4_committed',), kea_committed_env('10.77.0.1', '*')),
    ('kea', ('leases4_committed',), kea_committed_env('10.77.0.260', MAC1)),
    ('kea', ('lease4_release',), kea_lease_env('LEASE4', '10.77.0.1', '')),
    ('kea', ('lease4_expire',), kea_lease_env('LEASE4', '$(id)', MAC1)),
    ('kea', (), None),
    ('dhcpd', (), None),
    ('dnsmasq', (), None),
])
def test_invalid_mac_or_ip_records_nothing_and_exits_zero(hook, server, argv, env):
    hook(server, *argv, env=env)
    assert hook.records() == []


def test_garbage_numbers_do_not_break_the_record(hook):
    env = {'LEASES4_SIZE': '1;id', 'DELETED_LEASES4_SIZE': '99999999999999999999'}
    hook.kea('leases4_committed', env=env)
    hook.dhcpd('dhcpd', 'commit', '10.77.0.1', '2:77:0:0:a:1', 'pc', '30x', '0.0.0.0')
    hook.dnsmasq('add', MAC1, '10.77.0.2', env={'DNSMASQ_LEASE_EXPIRES': '$(id)'})
    # shell arithmetic would read 09 as a bad octal number and abort: Kea's sum is skipped instead
    hook.kea('lease4_expire', env=kea_lease_env('LEASE4', '10.77.0.3', MAC1, cltt='09', valid=30))
    hook.kea('lease4_expire', env=kea_lease_env('LEASE4', '10.77.0.4', MAC1, cltt='1' * 13, valid=30))
    assert [(r.ip, r.lease_expires) for r in hook.records()] == [
        ('10.77.0.1', None), ('10.77.0.2', None), ('10.77.0.3', None), ('10.77.0.4', None)]


@pytest.mark.parametrize('server', SERVERS)
def test_unwritable_spool_still_exits_zero_silently(server):
    # the server user cannot write the spool (root would ignore the mode, so drop to nobody in a
    # world-readable directory: pytest's tmp_path is private to root)
    base = tempfile.mkdtemp(prefix='roamscan-hook-')
    try:
        os.chmod(base, 0o755)
        spool = os.path.join(base, 'spool')
        os.mkdir(spool, 0o500)
        script = render_hook(os.path.join(base, 'hook'), spool, server)
        prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] if os.geteuid() == 0 else []
        argv, env = new_lease(server, '10.77.0.2', MAC1, 'laptop-1')
        proc = subprocess.run(prefix + [str(script), *argv], env=env, capture_output=True, timeout=10, check=False)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b'', b'')
        assert os.listdir(spool) == []
    finally:
        shutil.rmtree(base)


# One shell loop per writer: $1 start flag, $2 hook, $3 MAC, $4 writer number, $NAME its host name.
# Kea writes two records per run (a committed and a deleted lease) in its one write.
CONCURRENT_RUN = {
    'kea': 'LEASES4_AT0_ADDRESS="10.77.$4.$((i + 1))" DELETED_LEASES4_AT0_ADDRESS="10.78.$4.$((i + 1))" "$2" leases4_committed',
    'dhcpd': '"$2" dhcpd commit "10.77.$4.$((i + 1))" "$3" "$NAME" 30 0.0.0.0',
    'dnsmasq': '"$2" add "$3" "10.77.$4.$((i + 1))"',
}


@pytest.mark.parametrize('server', SERVERS)
def test_sixteen_concurrent_runs_never_interleave(hook, tmp_path, server):
    # long hex-encoded names make each write ~300 bytes (Kea: ~600); 16 writers x 40 runs each, started together
    start = tmp_path / 'go'
    loop = 'while [ ! -e "$1" ]; do :; done; i=0; while [ $i -lt 40 ]; do %s; i=$((i + 1)); done' % CONCURRENT_RUN[server]
    procs = []
    for n in range(16):
        mac = '02:77:00:00:%02x:01' % n
        name = ('w%02d;' % n) * 24
        env = {'NAME': name, 'DNSMASQ_SUPPLIED_HOSTNAME': name, 'DNSMASQ_LEASE_EXPIRES': '1795848217',
               'LEASES4_SIZE': '1', 'DELETED_LEASES4_SIZE': '1', 'QUERY4_CIADDR': '0.0.0.0'}
        env.update(kea_lease_env('LEASES4_AT0', '', mac, name))
        env.update(kea_lease_env('DELETED_LEASES4_AT0', '', mac, name))
        procs.append(subprocess.Popen(['/bin/sh', '-c', loop, 'writer', str(start), str(hook.scripts[server]),
                                       unpadded(mac) if server == 'dhcpd' else mac, str(n)], env=env))
    start.touch()
    for proc in procs:
        assert proc.wait(timeout=180) == 0
    per_run = 2 if server == 'kea' else 1
    raw = (hook.spool / 'current').read_text()
    assert raw.count('\n\nrs2 ') + raw.startswith('\nrs2 ') == 16 * 40  # one write per run
    lines = [line for line in raw.split('\n') if line]
    assert len(lines) == 16 * 40 * per_run
    by_writer = {}
    for line in lines:
        record = spool_record.parse_spool_line(line)  # raises on any torn or interleaved record
        writer = int(record.mac.split(':')[4], 16)
        assert bytes.fromhex(record.hostname_hex).decode() == ('w%02d;' % writer) * 24
        by_writer.setdefault(writer, []).append(record.ip)
    assert {w: len(ips) for w, ips in by_writer.items()} == {n: 40 * per_run for n in range(16)}


@pytest.mark.skipif(not shutil.which('strace'), reason='strace not installed')
@pytest.mark.parametrize('server', SERVERS)
def test_hook_forks_nothing_and_writes_once(hook, tmp_path, server):
    trace = tmp_path / 'trace'
    argv, env = new_lease(server, '10.77.0.100', MAC1, EVIL.format(marker=hook.marker))  # the hex path
    if server == 'kea':
        env.update(DELETED_LEASES4_SIZE='1', **kea_lease_env('DELETED_LEASES4_AT0', '10.77.0.99', MAC1))
    subprocess.run(['strace', '-f', '-o', str(trace), '-e', 'trace=process,write', str(hook.scripts[server]), *argv],
                   env=env, check=True, timeout=30)
    syscalls = [m.group(1) for m in (re.match(r'^\d+\s+(\w+)\(', line) for line in trace.read_text().splitlines()) if m]
    assert [c for c in syscalls if c in ('clone', 'clone3', 'fork', 'vfork')] == []
    assert syscalls.count('execve') == 1
    assert syscalls.count('write') == 1
    assert len(hook.records()) == (2 if server == 'kea' else 1)


@pytest.mark.skipif(not shutil.which('shellcheck'), reason='shellcheck not installed')
@pytest.mark.parametrize('server', SERVERS)
def test_hook_is_shellcheck_clean(hook, server):
    proc = subprocess.run(['shellcheck', '-s', 'sh', str(hook.scripts[server])], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout
