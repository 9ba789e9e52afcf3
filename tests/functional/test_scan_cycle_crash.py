# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole cycle killed (SIGKILL of the real ansible-playbook run and its workers) before and after each of its
stages, then run on until it is quiet: what a user would notice stays right.

Every kill point starts from the same moment (one cycle earlier, shared): laptops A and B wait for their finished
scan S1, C has just arrived (lease table), E is seen only through an event in the DHCP spool. The cycle that is
killed would credit A and B, launch one scan for C, acknowledge the spool and write its history. After the kill:
- the next run takes over the dead cycle's lease, ends green and its summary says what it resumed;
- never a second scan of the same targets (the simulator's scans and launch calls: S1 for A+B, one for C);
- no laptop credited but by a finished scan of its IP launched while it held it, none credited twice;
- no presence event lost (E is remembered; every spooled line is acknowledged in the end);
- the store stays readable (ansible-inventory, no corrupt entry).
The kill is tests/support/callback_plugins/stage_point.py (test-only); the real DHCP server's side of collect and
acknowledge is tests/e2e/test_scan_cycle_crash_kea.py."""
from __future__ import annotations

import collections
import shutil

import pytest

from cycle_lab import KILL_POINTS, CycleLab, hook_line, launch_call_ips, launch_calls, run_until_quiet

A, B, C, E = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03', '02:77:00:00:0e:05'
IP = {A: '10.77.0.100', B: '10.77.0.101', C: '10.77.0.102', E: '10.77.0.103'}
HOST = {mac: 'mac-' + mac.replace(':', '') for mac in IP}
# an intent was recorded and its scan ref not yet: the next run resumes that launch
RESUMES_LAUNCH = {'after-intent-before-launch', 'after-launch-before-record'}


@pytest.fixture(scope='module')
def start(tmp_path_factory, ansible_env, qualys_sim_server):
    """The moment every kill point starts from: the lab's files and the simulator's state."""
    sim = qualys_sim_server
    sim.state.reset()
    lab = CycleLab(tmp_path_factory.mktemp('crash-start') / 'lab', ansible_env)
    lab.write_leases('dhcp1', [(IP[A], A), (IP[B], B)])
    first = lab.run(sim)
    assert first.returncode == 0, first.stdout[-3000:]
    assert [sorted(launch_call_ips(call)) for call in launch_calls(sim)] == [[IP[A], IP[B]]]
    sim.state.scan_action('*', 'process')                       # S1 found A and B
    lab.write_leases('dhcp1', [(IP[A], A), (IP[B], B), (IP[C], C)])
    lab.append_spool('dhcp1', hook_line(E, IP[E]))
    return lab, sim.state.save()


@pytest.fixture
def lab(start, qualys_sim, tmp_path, ansible_env):
    started, saved = start
    qualys_sim.state.restore(saved)
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    for part in ('facts', 'dhcp1'):
        shutil.copytree(started.root / part, lab.root / part, symlinks=True, dirs_exist_ok=True)
    return lab


def scans_by_ref(sim):
    return {scan['ref']: scan for scan in sim.state.snapshot()['scans']}


def assert_scanned_once_and_credited_by_what_found_it(lab, sim, summaries):
    scans = scans_by_ref(sim)
    assert sorted(sorted(launch_call_ips(call)) for call in launch_calls(sim)) == [[IP[A], IP[B]], [IP[C]]]
    assert len(scans) == 2, 'a second scan of the same laptops: %r' % scans
    credited = collections.Counter(mac for summary in summaries for mac in summary['credited'])
    assert all(count == 1 for count in credited.values()), 'credited twice: %r' % credited
    records, groups = lab.inventory()
    by_target = {tuple(launch_call_ips({'params': {'ip': scan['target']}})): ref for ref, scan in scans.items()}
    assert {mac: records[HOST[mac]]['last_scan_ref'] for mac in (A, B, C)} == {
        A: by_target[(IP[A], IP[B])], B: by_target[(IP[A], IP[B])], C: by_target[(IP[C],)]}
    for mac in (A, B, C):
        record, scan = records[HOST[mac]], scans[records[HOST[mac]]['last_scan_ref']]
        assert scan['state'] == 'Finished' and scan['processed'] == '1' and record['ip'] == IP[mac]
        assert record['held_since'] <= scan['launched'] and record['pending'] is None
    assert not groups.get('roaming_pending')
    return records


@pytest.mark.parametrize('point', list(KILL_POINTS))
def test_cycle_killed_at_each_stage_resumes_without_a_second_scan_or_a_lost_event(lab, qualys_sim, point):
    killed = lab.crash(qualys_sim, KILL_POINTS[point])
    assert 'TASK [Summary | Show what this cycle did]' not in killed
    took_over = lab.expire_lease()
    assert took_over == (point != 'after-summary')      # only a finished summary gives the lease back

    # the scans finish while no cycle runs (a scan the killed run launched is Finished when the next one resumes),
    # and again between the cycles that follow
    def finish_scans():
        qualys_sim.state.scan_action('*', 'process')

    finish_scans()
    summaries = run_until_quiet(lab, qualys_sim, finish_scans, point)
    resumed = summaries[0]['resumed']
    if took_over:
        assert resumed['after']['pid'] and 'which did not finish' in resumed['after']['msg']
    launch = (resumed or {}).get('launch')
    assert bool(launch) == (point in RESUMES_LAUNCH)
    if launch:
        assert launch['title'] == launch_calls(qualys_sim)[1]['params']['scan_title']
    assert all(summary['resumed'] is None for summary in summaries[1:])

    records = assert_scanned_once_and_credited_by_what_found_it(lab, qualys_sim, summaries)
    # E was only ever in the spool: remembered, never scanned (its IP is not leased), and the spool is drained
    assert records[HOST[E]]['ip'] == IP[E] and records[HOST[E]]['last_scanned'] is None
    assert lab.unacknowledged('dhcp1') == []
    assert summaries[-1]['known'] == 4 and summaries[-1]['overdue'] == 1
