# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptop store failing in the middle of a cycle, for real: its file system (a tmpfs of the test's own) is
remounted read-only or filled up right before the stage that writes next, while the real ansible-playbook run goes
on (tests/support/callback_plugins/stage_point.py runs the command at that point). Checked as a user would: the run
fails naming the store and the reason, after its summary; the DHCP spool is acknowledged only when remember had
stored it; the store stays whole; once the file system is back, the next cycles end green and launch nothing twice
(one scan per batch, credited by the scan that found it, the spool-only event remembered).

Same start as the crash suite (tests/support/cycle_interrupt.py). A full disk or read-only store from the start of a
cycle, and each fault at the store level: tests/e2e/test_laptop_store_faults.py."""
from __future__ import annotations

import subprocess

import pytest

from cycle_interrupt import KILL_POINTS, assert_quiet_and_whole, copy_start, prepare_start, run_until_quiet
from cycle_lab import CycleLab, launch_calls, summary_of, warnings_of

pytestmark = pytest.mark.root
REASON = {'read-only': 'read-only file system', 'full': 'no space left on device'}


def says(text, reason):
    """``reason`` in ``text``, whatever its case and however Ansible wrapped the lines."""
    return reason in ' '.join(text.split()).lower()


# the stage whose write meets the fault first (its lease renewal or its records), when injected at the point
FAULTS = [
    ('read-only', 'after-collect-before-remember', 'remember'),
    ('full', 'after-collect-before-remember', 'remember'),
    ('read-only', 'after-remember-before-confirm', 'confirm'),
    ('read-only', 'after-verify-before-intent', 'verify'),
    ('read-only', 'after-launch-before-record', 'record'),
    ('full', 'after-launch-before-record', 'record'),
    ('read-only', 'after-acknowledge-before-summary', None),    # the history: a warning, the cycle's work is stored
]


@pytest.fixture(scope='module')
def start(tmp_path_factory, ansible_env, qualys_sim_server):
    lab = CycleLab(tmp_path_factory.mktemp('store-fault-start') / 'lab', ansible_env)
    lab.use_store(lab.root / 'store')
    return lab, prepare_start(lab, qualys_sim_server)


def fault_command(kind, mount_point):
    if kind == 'read-only':
        return ['mount', '-o', 'remount,ro', str(mount_point)]
    # tmpfs allocates whole pages: 4 KiB blocks until ENOSPC leave no byte free
    return ['sh', '-c', 'dd if=/dev/zero of="$0" bs=4096 2>/dev/null; exit 0', str(mount_point / 'filler')]


def undo(kind, mount_point):
    if kind == 'read-only':
        subprocess.run(['mount', '-o', 'remount,rw', str(mount_point)], check=True)
    else:
        (mount_point / 'filler').unlink()


@pytest.mark.parametrize('kind, point, failing', FAULTS, ids=['%s-%s' % (kind, point) for kind, point, dummy in FAULTS])
def test_store_failing_mid_cycle_is_loud_acknowledges_only_what_was_stored_and_the_next_cycles_recover(
        start, small_fs, tmp_path, ansible_env, qualys_sim, kind, point, failing):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    lab.use_store(small_fs / 'facts')
    copy_start(start[0], lab, qualys_sim, start[1])
    spooled = lab.unacknowledged('dhcp1')
    assert spooled

    returncode, output = lab.at_point(qualys_sim, KILL_POINTS[point], fault_command(kind, small_fs))
    summary = summary_of(output)
    undo(kind, small_fs)
    if failing is None:
        assert returncode == 0 and summary['fault'] is None
        assert warnings_of(output) and says(output, REASON[kind])     # the history could not be written
    else:
        assert returncode != 0 and summary['fault']['stage'] == failing
        assert says(summary['fault']['msg'], REASON[kind]) and str(small_fs / 'facts') in summary['fault']['msg']
        # the spool is dropped only when remember stored what it read
        assert summary['acknowledged'] == ([] if failing == 'remember' else ['dhcp1'])
        assert (lab.unacknowledged('dhcp1') == spooled) == (failing == 'remember')
    if failing == 'record':
        assert len(qualys_sim.state.scans) == 2        # launched, not recorded: the next cycle must not launch again
    lab.expire_lease()     # a lease that could not be released (or renewed) is taken over once it expired

    def finish_scans():
        qualys_sim.state.scan_action('*', 'process')

    summaries = run_until_quiet(lab, qualys_sim, finish_scans, '%s store %s' % (kind, point))
    launch = (summaries[0]['resumed'] or {}).get('launch')
    assert bool(launch) == (failing == 'record')    # its intent was stored, its scan reference was not
    if launch:
        assert launch['title'] == launch_calls(qualys_sim)[1]['params']['scan_title']
    assert_quiet_and_whole(lab, qualys_sim, summaries)
