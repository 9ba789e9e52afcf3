# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The whole cycle killed (SIGKILL of the real ansible-playbook run and its workers) before collect and after each
of its stages, then run on until it is quiet: what a user would notice stays right.

Every kill point starts from the same moment (tests/support/cycle_interrupt.py, made once): A and B wait for
their finished scan S1, C has just arrived, E is only in the DHCP spool. After the kill:
- the next run takes over the dead cycle's lease, ends green and its summary says what it resumed;
- never a second scan of the same targets (the simulator's scans and launch calls: S1 for A+B, one for C);
- no laptop credited but by a finished scan of its IP launched while it held it, none credited twice;
- no presence event lost (E is remembered; every spooled line is acknowledged in the end);
- the store stays readable (ansible-inventory, no corrupt entry).
The kill is tests/support/callback_plugins/stage_point.py (test-only); the real DHCP server's side of collect and
acknowledge is tests/e2e/test_scan_cycle_crash_kea.py."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from cycle_interrupt import CYCLE_STAGES, KILL_POINTS, RESUMES_LAUNCH, assert_quiet_and_whole, copy_start, prepare_start, run_until_quiet
from cycle_lab import CycleLab, launch_calls


PLAYBOOK = Path(__file__).resolve().parents[2] / 'playbooks' / 'scan_overdue.yml'


def task_names(tasks):
    for task in tasks or []:
        yield task.get('name', '')
        for section in ('block', 'rescue', 'always'):
            yield from task_names(task.get(section))


def test_every_kill_point_names_exactly_one_task_of_the_cycle():
    names = [name for play in yaml.safe_load(PLAYBOOK.read_text()) for name in task_names(play.get('tasks'))]
    found = []
    for stage, start in CYCLE_STAGES:
        matching = [index for index, name in enumerate(names) if name.startswith(start)]
        assert len(matching) == 1, (stage, start)
        found += matching
    assert found == sorted(found)   # in the playbook's order


@pytest.fixture(scope='module')
def start(tmp_path_factory, ansible_env, qualys_sim_server):
    """The moment every kill point starts from: the lab's files and the simulator's state."""
    lab = CycleLab(tmp_path_factory.mktemp('crash-start') / 'lab', ansible_env)
    return lab, prepare_start(lab, qualys_sim_server)


@pytest.fixture
def lab(start, qualys_sim, tmp_path, ansible_env):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    copy_start(start[0], lab, qualys_sim, start[1])
    return lab


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
    assert_quiet_and_whole(lab, qualys_sim, summaries)
