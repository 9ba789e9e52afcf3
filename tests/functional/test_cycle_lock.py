# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One cycle at a time per laptop store, across controllers: two or three controllers (separate
ansible-playbook processes, each with its own directory and ANSIBLE_HOME) start the cycle at the same
moment on one store (a jsonfile directory, or a real redis-server), against a Qualys that answers the
launch slowly. Checked as a user would: the simulator's call log (exactly one launch), the summaries
(the others say who is running), and the laptop records through the inventory plugin.

ROAMSCAN_LOCK_TRIALS (default 20) sets how many times each race is run."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of

TRIALS = int(os.environ.get('ROAMSCAN_LOCK_TRIALS', '20'))
LAPTOPS = [('10.77.0.%d' % (100 + number), '02:77:00:00:0a:%02x' % number) for number in range(1, 6)]
SLOW_LAUNCH = 1.5
LEASE_KEY = 'ansible_factsroamscan-cycle-lock'   # community.general.redis' default prefix


def controllers(tmp_path, ansible_env, count, store, redis_server=None):
    labs = []
    for number in range(1, count + 1):
        root = tmp_path / ('controller%d' % number)
        env = dict(ansible_env, ANSIBLE_HOME=str(root / 'ansible-home'), ANSIBLE_LOCAL_TEMP=str(root / 'ansible-home' / 'tmp'))
        if store == 'redis':
            env['ANSIBLE_COLLECTIONS_SCAN_SYS_PATH'] = 'true'   # community.general from the ansible package
            lab = CycleLab(root, env, cache='community.general.redis', cache_connection=redis_server.connection)
        else:
            lab = CycleLab(root, env, cache_connection=str(tmp_path / 'shared-facts'))
        lab.write_leases('dhcp1', LAPTOPS)
        labs.append(lab)
    return labs


def fresh_store(tmp_path, redis_server):
    if redis_server is not None:
        redis_server.flush()
    else:
        shutil.rmtree(tmp_path / 'shared-facts', ignore_errors=True)
        (tmp_path / 'shared-facts').mkdir()


def start_together(labs, sim, extra_vars=None):
    """Every controller's cycle, started at the same moment; ``[(returncode, output)]``."""
    commands = [lab.playbook_command(extra_vars) for lab in labs]   # each writes its extra vars first
    procs = []
    for lab, command in zip(labs, commands):
        env = dict(lab.env, PATH='%s:%s' % (lab.venv_bin, lab.env.get('PATH', '/usr/bin:/bin')), **lab.qualys_env(sim))
        procs.append(subprocess.Popen(command, env=env, cwd=str(lab.root), stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT, text=True))
    outputs = [proc.communicate(timeout=600)[0] for proc in procs]
    return [(proc.returncode, output) for proc, output in zip(procs, outputs)]


@pytest.mark.slow
@pytest.mark.parametrize('store', ['jsonfile', 'redis'])
@pytest.mark.parametrize('count', [2, 3])
def test_cycles_started_together_launch_once_and_lose_no_record(tmp_path, ansible_env, qualys_sim, request, store, count):
    redis_server = request.getfixturevalue('redis_server') if store == 'redis' else None
    labs = controllers(tmp_path, ansible_env, count, store, redis_server)
    for trial in range(TRIALS):
        fresh_store(tmp_path, redis_server)
        qualys_sim.state.reset()
        qualys_sim.state.add_fault('slow', api='scan:launch', count=count, seconds=SLOW_LAUNCH)
        outcomes = start_together(labs, qualys_sim)
        where = 'trial %d of %d' % (trial + 1, TRIALS)
        for returncode, output in outcomes:
            assert returncode == 0, '%s:\n%s' % (where, output[-4000:])
        summaries = [summary_of(output) for dummy, output in outcomes]
        calls = launch_calls(qualys_sim)
        assert len(calls) == 1 and len(qualys_sim.state.scans) == 1, '%s: %d launches' % (where, len(calls))
        ran = [summary for summary in summaries if summary['skipped'] is None]
        skipped = [summary['skipped'] for summary in summaries if summary['skipped'] is not None]
        assert len(ran) == 1 and sorted(ran[0]['launched_targets']) == sorted(ip for ip, dummy in LAPTOPS), where
        assert len(skipped) == count - 1 and all(text.startswith('skipped: another cycle is running on ') for text in skipped)
        # no record lost or overwritten: every laptop carries the one launched scan
        records, dummy = labs[-1].inventory()
        ref = qualys_sim.state.scans[0]['ref']
        assert sorted(records) == sorted('mac-' + mac.replace(':', '') for dummy, mac in LAPTOPS), where
        assert {record['pending']['scan_ref'] for record in records.values()} == {ref}, where


def test_when_locked_fail_fails_the_second_cycle_with_the_holder(tmp_path, ansible_env, qualys_sim):
    labs = controllers(tmp_path, ansible_env, 2, 'jsonfile')
    fresh_store(tmp_path, None)
    qualys_sim.state.add_fault('slow', api='scan:launch', count=2, seconds=SLOW_LAUNCH)
    outcomes = start_together(labs, qualys_sim, {'roamscan_when_locked': 'fail'})
    failed = [output for returncode, output in outcomes if returncode != 0]
    assert len(failed) == 1 and len(launch_calls(qualys_sim)) == 1
    summary = summary_of(failed[0])
    assert summary['fault']['stage'] == 'collect' and 'another cycle is running on ' in summary['fault']['msg']
    assert 'roamscan_when_locked is fail' in summary['fault']['msg'] and summary['launched'] == []


def test_cycle_killed_holding_the_redis_lease_is_taken_over_after_expiry(tmp_path, ansible_env, qualys_sim, redis_server):
    import redis  # pylint: disable=import-outside-toplevel
    lab, = controllers(tmp_path, ansible_env, 1, 'redis', redis_server)
    qualys_sim.state.add_fault('slow', api='scan:launch', count=1, seconds=3)
    proc = lab.spawn(qualys_sim, extra_vars={'roamscan_cycle_lock_seconds': 15})
    deadline = time.time() + 120
    while not launch_calls(qualys_sim) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, proc.communicate()[0][-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    client = redis.Redis(host='127.0.0.1', port=redis_server.port)
    left = client.pttl(LEASE_KEY)
    assert 0 < left <= 15000, 'the killed cycle left no lease: %r' % left

    early = lab.run(qualys_sim)
    assert early.returncode == 0 and summary_of(early)['skipped'].startswith('skipped: another cycle is running on ')
    time.sleep(client.pttl(LEASE_KEY) / 1000 + 0.2)
    taken_over = summary_of(lab.run(qualys_sim))
    assert taken_over['skipped'] is None and len(launch_calls(qualys_sim)) == 1   # resumed, not launched again
    assert client.get(LEASE_KEY) is None, 'the finished cycle released the lease'
    assert int(client.get(LEASE_KEY + '-token')) == 3   # the killed cycle, the skipped one's attempt, the take-over


def test_redis_write_based_on_a_stale_read_is_refused(redis_server, store_driver):
    """Read, another writer (Ansible's own community.general.redis plugin) changes the record, then save: refused."""
    from legacy_records import mac_of, sample_fleet  # pylint: disable=import-outside-toplevel
    settings = {'plugin': 'community.general.redis', 'connection': redis_server.connection, 'timeout': 0}
    records = sample_fleet(3, 2, 0)
    mac = mac_of(1)
    status, dummy = store_driver({'settings': settings, 'ops': [{'op': 'write_behind', 'records': records}]})
    assert status == 0
    theirs = dict(records[mac], hostname='theirs')
    ours = dict(records[mac], hostname='ours')
    # the other writer writes today's record key (an older controller's mac-... key is ignored once records moved)
    status, answer = store_driver({'settings': settings, 'ops': [
        {'op': 'get', 'macs': [mac]}, {'op': 'write_behind', 'records': {mac: theirs}}, {'op': 'save', 'records': {mac: ours}}]})
    assert status == 3 and answer['error'] == 'StaleRecord' and 'changed by another writer' in answer['message']
    status, answer = store_driver({'settings': settings, 'ops': [{'op': 'get', 'macs': [mac]}]})
    assert status == 0 and answer['results'][0][mac]['hostname'] == 'theirs'
