# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease hook as the three servers call it (argv/env from reference/dhcp-servers.md), parsed
back with _spool_record.parse_spool_line. No root needed: the hook is a plain POSIX sh script."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile

import pytest

from collection_import import module_utils
from hook import render_hook

spool_record = module_utils('_spool_record')

EVIL = 'x;touch {marker};$(id)'
EVIL_QUOTES = 'a,b"c\'d`touch {marker}`e'
EVIL_NEWLINE = 'line1\nrs1 forged 1 1 kea lease 02:00:00:00:00:01 10.9.9.9 - - .'
MAC1, MAC2 = '02:77:00:00:0a:01', '02:77:00:00:0b:02'


@pytest.fixture
def hook(tmp_path):
    spool = tmp_path / 'spool'
    spool.mkdir()
    script = render_hook(tmp_path / 'roamscan-lease-hook', spool)

    def run(*argv, env=None):
        # Kea passes ONLY its own variables (no PATH); the others pass their environment
        proc = subprocess.run([str(script), *argv], env=env or {}, capture_output=True, timeout=10, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc

    run.spool = spool
    run.script = script
    run.marker = tmp_path / 'pwned'

    def records():
        path = spool / 'current'
        if not path.exists():
            return []
        return [spool_record.parse_spool_line(line) for line in path.read_text().split('\n') if line]
    run.records = records
    return run


def kea_lease_env(prefix, ip, mac, hostname='', cltt=1795847908, valid=30, state='default'):
    return {prefix + '_ADDRESS': ip, prefix + '_HWADDR': mac, prefix + '_HOSTNAME': hostname,
            prefix + '_CLTT': str(cltt), prefix + '_VALID_LIFETIME': str(valid), prefix + '_STATE': state,
            prefix + '_HWADDR_TYPE': '1', prefix + '_CLIENT_ID': '01:' + mac, prefix + '_SUBNET_ID': '1'}


def kv(record):
    return (record.server, record.kind, record.mac, record.ip, record.hostname, record.lease_expires)


def test_kea_committed_new_renew_and_address_change(hook):
    new = {'LEASES4_SIZE': '1', 'DELETED_LEASES4_SIZE': '0', 'QUERY4_TYPE': 'DHCPREQUEST', 'QUERY4_CIADDR': '0.0.0.0'}
    new.update(kea_lease_env('LEASES4_AT0', '10.77.0.100', MAC1, 'laptop-1'))
    hook('leases4_committed', env=new)
    renew = dict(new, QUERY4_CIADDR='10.77.0.100')
    hook('leases4_committed', env=renew)
    moved = dict(new, DELETED_LEASES4_SIZE='1', LEASES4_AT0_ADDRESS='10.77.0.101')
    moved.update(kea_lease_env('DELETED_LEASES4_AT0', '10.77.0.100', MAC1, 'laptop-1'))
    hook('leases4_committed', env=moved)
    assert [kv(r) for r in hook.records()] == [
        ('kea', 'lease', MAC1, '10.77.0.100', 'laptop-1', '2026-11-28T06:38:58Z'),
        ('kea', 'renew', MAC1, '10.77.0.100', 'laptop-1', '2026-11-28T06:38:58Z'),
        ('kea', 'lease', MAC1, '10.77.0.101', 'laptop-1', '2026-11-28T06:38:58Z'),
        ('kea', 'release', MAC1, '10.77.0.100', 'laptop-1', '2026-11-28T06:38:58Z'),
    ]


def test_kea_release_decline_expire_and_ignored_calls(hook):
    release_commit = {'LEASES4_SIZE': '0', 'DELETED_LEASES4_SIZE': '1', 'QUERY4_TYPE': 'DHCPRELEASE'}
    release_commit.update(kea_lease_env('DELETED_LEASES4_AT0', '10.77.0.100', MAC1))
    hook('leases4_committed', env=release_commit)  # recorded by lease4_release instead
    hook('lease4_release', env=kea_lease_env('LEASE4', '10.77.0.100', MAC1))
    declined = {'LEASES4_SIZE': '1', 'DELETED_LEASES4_SIZE': '0', 'QUERY4_TYPE': 'DHCPDECLINE'}
    declined.update(kea_lease_env('LEASES4_AT0', '10.77.0.50', '', state='declined'))
    hook('leases4_committed', env=declined)  # no HWADDR: recorded by lease4_decline
    hook('lease4_decline', env=kea_lease_env('LEASE4', '10.77.0.50', '02:77:00:00:0d:ec'))
    hook('lease4_expire', env=dict(kea_lease_env('LEASE4', '10.77.0.101', MAC2), REMOVE_LEASE='true'))
    hook('lease4_renew', env=dict(kea_lease_env('LEASE4', '10.77.0.101', MAC2), QUERY4_TYPE='DHCPDISCOVER'))
    hook('lease4_recover', env=kea_lease_env('LEASE4', '10.77.0.101', MAC2))
    hook('lease6_renew')
    assert [r.kind for r in hook.records()] == ['release', 'decline', 'expire']
    assert hook.records()[1].mac == '02:77:00:00:0d:ec'


def test_dhcpd_argv_unpadded_mac_and_relative_expiry(hook):
    hook('dhcpd', 'commit', '10.77.0.100', '2:77:0:0:a:1', 'laptop-1', '30', '0.0.0.0', env={'PATH': '/usr/bin'})
    hook('dhcpd', 'commit', '10.77.0.100', '2:77:0:0:A:1', '', '30', '10.77.0.100')
    hook('dhcpd', 'release', '10.77.0.100', '2:77:0:0:a:1')
    hook('dhcpd', 'expiry', '10.77.0.101', '2:77:0:0:b:2')
    got = hook.records()
    assert [(r.kind, r.mac, r.hostname) for r in got] == [
        ('lease', MAC1, 'laptop-1'), ('renew', MAC1, None), ('release', MAC1, None), ('expire', MAC2, None)]
    assert got[0].lease_expires is not None and got[2].lease_expires is None


def test_dnsmasq_actions_env_and_unknown_actions(hook):
    env = {'DNSMASQ_LEASE_EXPIRES': '1795848217', 'DNSMASQ_TIME_REMAINING': '120', 'PATH': '/usr/bin'}
    hook('add', MAC1, '10.77.0.142', env=dict(env, DNSMASQ_SUPPLIED_HOSTNAME='x;y'))
    hook('old', MAC1, '10.77.0.142', 'renewbox', env=env)
    hook('del', MAC1, '10.77.0.142', env=env)
    for action in ('tftp', 'init', 'arp-add', 'arp-del', 'relay-snoop'):
        hook(action, MAC1, '10.77.0.142', env=env)
    got = hook.records()
    assert [(r.kind, r.hostname, r.hostname_hex) for r in got[:2]] == [('lease', None, '783b79'), ('renew', 'renewbox', None)]
    assert len(got) == 3 and got[2].kind in ('release', 'expire')


@pytest.mark.parametrize('template', [EVIL, EVIL_QUOTES, EVIL_NEWLINE])
def test_hostile_hostnames_are_recorded_hex_encoded_and_never_executed(hook, template):
    name = template.format(marker=hook.marker)
    hook('dhcpd', 'commit', '10.77.0.100', '2:77:0:0:a:1', name, '30', '0.0.0.0', env={'PATH': '/usr/bin:/bin'})
    hook('add', MAC2, '10.77.0.101', env={'DNSMASQ_SUPPLIED_HOSTNAME': name, 'PATH': '/usr/bin:/bin'})
    kea = {'LEASES4_SIZE': '1', 'DELETED_LEASES4_SIZE': '0', 'QUERY4_CIADDR': '0.0.0.0'}
    kea.update(kea_lease_env('LEASES4_AT0', '10.77.0.102', MAC1, name))
    hook('leases4_committed', env=kea)
    raw = (hook.spool / 'current').read_bytes()
    assert raw.count(b'\nrs1 ') == 3 and b'forged' not in raw and b';' not in raw and b'`' not in raw
    got = hook.records()
    assert len(got) == 3
    for record in got:
        assert record.hostname is None
        assert bytes.fromhex(record.hostname_hex) == name.encode()
    assert not hook.marker.exists()


def test_long_hostname_is_capped_and_record_stays_small(hook):
    hook('add', MAC1, '10.77.0.1', '', env={'DNSMASQ_SUPPLIED_HOSTNAME': 'é' * 200})
    record = hook.records()[0]
    assert len(bytes.fromhex(record.hostname_hex)) == 96
    assert len((hook.spool / 'current').read_bytes()) < 400


@pytest.mark.parametrize('argv', [
    ('dhcpd', 'commit', '10.77.0.256', '2:77:0:0:a:1', '', '30', '0.0.0.0'),
    ('dhcpd', 'commit', '010.77.0.1', '2:77:0:0:a:1', '', '30', '0.0.0.0'),
    ('dhcpd', 'commit', '10.77.0.1', '2:77:0:0:a', '', '30', '0.0.0.0'),
    ('dhcpd', 'commit', '10.77.0.1', '2:77:0:0:a:1:3', '', '30', '0.0.0.0'),
    ('dhcpd', 'commit', '10.77.0.1;id', '2:77:0:0:a:1', '', '30', '0.0.0.0'),
    ('add', '02:77:00:00:0a:01;id', '10.77.0.1'),
    ('add', '1-02:77:00:00:0a:01', '10.77.0.1'),
    ('del',),
    (),
])
def test_invalid_mac_or_ip_records_nothing_and_exits_zero(hook, argv):
    hook(*argv)
    assert hook.records() == []


def test_garbage_numbers_do_not_break_the_record(hook):
    env = {'LEASES4_SIZE': '1;id', 'DELETED_LEASES4_SIZE': '99999999999999999999'}
    hook('leases4_committed', env=env)
    hook('dhcpd', 'commit', '10.77.0.1', '2:77:0:0:a:1', 'pc', '30x', '0.0.0.0')
    hook('add', MAC1, '10.77.0.2', env={'DNSMASQ_LEASE_EXPIRES': '$(id)'})
    assert [(r.ip, r.lease_expires) for r in hook.records()] == [('10.77.0.1', None), ('10.77.0.2', None)]


def test_unwritable_spool_still_exits_zero_silently():
    # the server user cannot write the spool (root would ignore the mode, so drop to nobody in a
    # world-readable directory: pytest's tmp_path is private to root)
    base = tempfile.mkdtemp(prefix='roamscan-hook-')
    try:
        os.chmod(base, 0o755)
        spool = os.path.join(base, 'spool')
        os.mkdir(spool, 0o500)
        script = render_hook(os.path.join(base, 'hook'), spool)
        prefix = ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] if os.geteuid() == 0 else []
        proc = subprocess.run(prefix + [str(script), 'add', MAC1, '10.77.0.2'], env={}, capture_output=True,
                              timeout=10, check=False)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, b'', b'')
        assert os.listdir(spool) == []
    finally:
        shutil.rmtree(base)


def test_sixteen_concurrent_runs_never_interleave(hook, tmp_path):
    # long hex-encoded names make each write ~300 bytes; 16 writers x 40 runs each, started together
    start = tmp_path / 'go'
    loop = ('while [ ! -e "$1" ]; do :; done; i=0; while [ $i -lt 40 ]; do '
            '"$2" add "$3" "10.77.$4.$((i + 1))"; i=$((i + 1)); done')
    procs = []
    for n in range(16):
        env = {'DNSMASQ_SUPPLIED_HOSTNAME': ('w%02d;' % n) * 24, 'DNSMASQ_LEASE_EXPIRES': '1795848217'}
        procs.append(subprocess.Popen(['/bin/sh', '-c', loop, 'writer', str(start), str(hook.script),
                                       '02:77:00:00:%02x:01' % n, str(n)], env=env))
    start.touch()
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    lines = [line for line in (hook.spool / 'current').read_text().split('\n') if line]
    assert len(lines) == 16 * 40
    by_writer = {}
    for line in lines:
        record = spool_record.parse_spool_line(line)  # raises on any torn or interleaved record
        writer = int(record.mac.split(':')[4], 16)
        assert bytes.fromhex(record.hostname_hex).decode() == ('w%02d;' % writer) * 24
        by_writer.setdefault(writer, []).append(record.ip)
    assert {w: len(ips) for w, ips in by_writer.items()} == {n: 40 for n in range(16)}


@pytest.mark.skipif(not shutil.which('strace'), reason='strace not installed')
def test_hook_forks_nothing_and_writes_once(hook, tmp_path):
    trace = tmp_path / 'trace'
    env = {'LEASES4_SIZE': '1', 'DELETED_LEASES4_SIZE': '0', 'QUERY4_CIADDR': '0.0.0.0'}
    env.update(kea_lease_env('LEASES4_AT0', '10.77.0.100', MAC1, EVIL.format(marker=hook.marker)))
    subprocess.run(['strace', '-f', '-o', str(trace), '-e', 'trace=process,write', str(hook.script),
                    'leases4_committed'], env=env, check=True, timeout=30)
    syscalls = [m.group(1) for m in (re.match(r'^\d+\s+(\w+)\(', line) for line in trace.read_text().splitlines()) if m]
    assert [c for c in syscalls if c in ('clone', 'clone3', 'fork', 'vfork')] == []
    assert syscalls.count('execve') == 1
    assert syscalls.count('write') == 1


@pytest.mark.skipif(not shutil.which('shellcheck'), reason='shellcheck not installed')
def test_hook_is_shellcheck_clean(hook):
    proc = subprocess.run(['shellcheck', '-s', 'sh', str(hook.script)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
