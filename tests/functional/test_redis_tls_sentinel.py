# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared store on Redis as production runs it: a real redis-server with a password behind Redis's own TLS (a
certificate made with openssl for this run, trusted by the controller through SSL_CERT_FILE), and a real Sentinel
set-up (master, replica, redis-sentinel) whose master is killed in the middle of a cycle. Real ansible-playbook
cycles with community.general.redis; the Qualys simulator on 127.0.0.1."""
from __future__ import annotations

import os
import shutil
import signal
import socket

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of
from netns import wait_until
from redis_lab import RedisSentinel, RedisServer
from vpn_lab import VpnCertificates

PASSWORD = 'Redis-%s-pw' % os.getpid()
LAPTOPS = [('10.77.0.%d' % (100 + number), '02:77:00:00:0a:%02x' % number) for number in range(1, 6)]

pytestmark = pytest.mark.skipif(not shutil.which('redis-server') or not shutil.which('redis-sentinel'),
                                reason='redis-server and redis-sentinel are installed by scripts/install-system-deps')


def redis_lab(tmp_path, ansible_env, connection, **env):
    lab = CycleLab(tmp_path / 'controller', dict(ansible_env, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='true', **env),
                   cache='community.general.redis', cache_connection=connection)
    lab.write_leases('dhcp1', LAPTOPS)
    return lab


def output(proc):
    return proc.stdout + proc.stderr


def test_store_and_cycle_lease_over_tls_with_a_password(tmp_path, ansible_env, qualys_sim):
    certificates = VpnCertificates(tmp_path / 'tls', '127.0.0.1', ())
    server = RedisServer(tmp_path / 'redis', password=PASSWORD,
                         tls=(certificates.server_cert, certificates.server_key, certificates.ca)).start()
    try:
        with socket.create_connection(('127.0.0.1', server.port), timeout=5) as plain:   # TLS only: plain text gets nothing
            plain.sendall(b'PING\r\n')
            plain.settimeout(2)
            try:
                assert not plain.recv(64).startswith(b'+PONG')
            except (socket.timeout, ConnectionResetError):
                pass

        untrusted = redis_lab(tmp_path / 'untrusted', ansible_env, server.connection)
        refused = untrusted.run(qualys_sim)
        # ansible-core itself opens the fact cache first: it stops the run on the certificate, before any stage
        assert refused.returncode != 0 and 'certificate verify failed' in output(refused) and PASSWORD not in output(refused)
        assert launch_calls(qualys_sim) == []

        lab = redis_lab(tmp_path, ansible_env, server.connection, SSL_CERT_FILE=str(certificates.ca))
        first = lab.run(qualys_sim)
        assert first.returncode == 0, first.stdout[-4000:]
        assert sorted(summary_of(first)['launched_targets']) == sorted(ip for ip, dummy in LAPTOPS)
        client = server.client()
        assert int(client.get('ansible_factsroamscan-cycle-lock-token')) == 1 and client.get('ansible_factsroamscan-cycle-lock') is None
        qualys_sim.state.scan_action('*', 'process')
        second = lab.run(qualys_sim)
        assert second.returncode == 0, second.stdout[-4000:]
        assert sorted(summary_of(second)['credited']) == sorted(mac for dummy, mac in LAPTOPS)
        assert len(launch_calls(qualys_sim)) == 1
        records, dummy = lab.inventory()
        assert len(records) == len(LAPTOPS) and all(record['last_scanned'] for record in records.values())
        assert PASSWORD not in output(first) + output(second)
    finally:
        server.stop()


def test_sentinel_failover_in_the_middle_of_a_cycle_loses_nothing_and_launches_once(tmp_path, ansible_env, qualys_sim):
    master = RedisServer(tmp_path / 'master', password=PASSWORD).start()
    replica = RedisServer(tmp_path / 'replica', password=PASSWORD, replica_of=master).start()
    sentinel = None
    try:
        wait_until(lambda: replica.client().info('replication').get('master_link_status') == 'up', 20, what='replica in sync')
        sentinel = RedisSentinel(tmp_path / 'sentinel', master).start()
        lab = redis_lab(tmp_path, ansible_env, '127.0.0.1:%d;0:%s' % (sentinel.port, PASSWORD),
                        ANSIBLE_CACHE_REDIS_SENTINEL=sentinel.name)
        qualys_sim.state.add_fault('slow', api='scan:launch', count=1, seconds=4)
        cycle = lab.spawn(qualys_sim)
        wait_until(lambda: launch_calls(qualys_sim) or cycle.poll() is not None, 180, interval=0.02, what='the launch call')
        assert cycle.poll() is None, cycle.communicate()[0][-3000:]
        master.stop(signal.SIGKILL)   # while Qualys answers the launch: the intents are written, the scan refs not yet
        wait_until(lambda: sentinel.master_port() == replica.port, 60, interval=0.2, what='sentinel promoting the replica')
        runs = [(cycle.communicate(timeout=600)[0], cycle.returncode)]
        while runs[-1][1] != 0 and len(runs) < 3:   # at most the cycle is retried
            again = lab.run(qualys_sim)
            runs.append((output(again), again.returncode))
        text = ''.join(run for run, dummy in runs)
        assert runs[-1][1] == 0 and len(runs) <= 2, text[-6000:]
        assert len(launch_calls(qualys_sim)) == 1 and len(qualys_sim.state.scans) == 1, text[-3000:]
        records, dummy = lab.inventory()
        ref = qualys_sim.state.scans[0]['ref']
        assert sorted(records) == sorted('mac-' + mac.replace(':', '') for dummy, mac in LAPTOPS)   # nothing lost
        assert {record['pending']['scan_ref'] for record in records.values()} == {ref}, text[-3000:]
        assert PASSWORD not in text
    finally:
        for process in (sentinel, replica, master):
            if process is not None:
                process.stop()
