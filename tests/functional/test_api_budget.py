# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API budget governor with real ansible-playbook runs against the simulator: a 409 Qualys answered is kept in
the store and respected by the next runs (a new process, and another controller on the same Redis), what a run
defers is said in its summary, and a small batch waits for more arrivals instead of spending a launch."""
from __future__ import annotations

from cycle_lab import CycleLab, launch_calls, summary_of

A, B = '02:77:00:00:0a:01', '02:77:00:00:0b:02'
# Qualys blocks every launch for 10 minutes; the task gives up at once (max_wait), as it does for a long wait
BLOCKED = {'roamscan_qualys_connection': {'timeout': 5, 'max_wait': 5}}
HOLD = 'budget: Qualys blocked scan_launch with HTTP 409 (code 1965)'


def calls_of(sim, api):
    return [call for call in sim.state.calls if call['api'] == api]


def block_launches(sim):
    sim.state.add_fault('rate_409', api='scan:launch', count=20, to_wait=600)


def test_a_rate_limit_409_at_the_launch_is_kept_and_the_next_run_does_not_retry_until_it_ends(tmp_path, ansible_env, qualys_sim):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    block_launches(qualys_sim)
    first = lab.run(qualys_sim, extra_vars=BLOCKED)
    summary = summary_of(first)
    assert first.returncode != 0 and summary['fault']['stage'] == 'launch'
    assert summary['api_budget']['scan_launch'].startswith('0 of 300 calls per hour left to roamscan')
    assert [path.name for path in lab.cache_dir.iterdir() if 'roamscan-api-budget' in path.name]

    # a new ansible-playbook process (a restart): the intent is not resumed into the block, nothing is called
    lists_before = len(calls_of(qualys_sim, 'scan:list'))
    second = lab.run(qualys_sim, extra_vars=BLOCKED)
    summary = summary_of(second)
    assert second.returncode == 0 and summary['fault'] is None
    assert len(launch_calls(qualys_sim)) == 1 and len(calls_of(qualys_sim, 'scan:list')) == lists_before
    assert any(item.startswith(HOLD) for item in summary['deferred']) and summary['held'].startswith(HOLD)
    records, dummy = lab.inventory()
    assert records['mac-027700000a01']['pending']['scan_ref'] is None   # the intent waits for the block to end


def test_another_controller_on_the_same_redis_respects_the_409(tmp_path, ansible_env, qualys_sim, redis_server):
    labs = []
    for number in (1, 2):
        root = tmp_path / ('controller%d' % number)
        env = dict(ansible_env, ANSIBLE_HOME=str(root / 'ansible-home'), ANSIBLE_LOCAL_TEMP=str(root / 'ansible-home' / 'tmp'),
                   ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='true')   # community.general from the ansible package
        labs.append(CycleLab(root, env, cache='community.general.redis', cache_connection=redis_server.connection))
    labs[0].write_leases('dhcp1', [('10.77.0.100', A)])
    labs[1].write_leases('dhcp1', [('10.77.0.101', B)])
    block_launches(qualys_sim)
    assert labs[0].run(qualys_sim, extra_vars=BLOCKED).returncode != 0
    summary = summary_of(labs[1].run(qualys_sim, extra_vars=BLOCKED))
    assert summary['fault'] is None and summary['launched'] == [] and len(launch_calls(qualys_sim)) == 1
    assert summary['held'].startswith(HOLD) and summary['held_back_count'] >= 1
    # and after a restart of the redis-server, the block is still there
    redis_server.stop()
    redis_server.start()
    summary = summary_of(labs[1].run(qualys_sim, extra_vars=BLOCKED))
    assert summary['held'].startswith(HOLD) and len(launch_calls(qualys_sim)) == 1


def test_a_small_batch_waits_for_more_arrivals_and_says_so(tmp_path, ansible_env, qualys_sim):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    # a device without any visit history counts as a coin flip to leave (risk 0.5): launched at once by default
    batching = {'roamscan_batch_min_targets': 2, 'roamscan_batch_leave_risk': 0.9}
    summary = summary_of(lab.run(qualys_sim, extra_vars=batching))
    assert summary['launched'] == [] and qualys_sim.state.calls == []   # neither the host list nor a launch
    assert summary['deferred'][0].startswith('batching: 1 of 2 devices due, the first arrived ')
    assert summary['deferred'][0].endswith('(highest risk now 50%)')
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    summary = summary_of(lab.run(qualys_sim, extra_vars=batching))
    assert sorted(summary['launched_targets']) == ['10.77.0.100', '10.77.0.101'] and len(launch_calls(qualys_sim)) == 1
    assert [call['api'] for call in qualys_sim.state.calls] == ['host:list', 'scan:launch']   # no reuse lookup
