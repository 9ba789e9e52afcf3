# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``ansible-playbook roamscan.qualys.scan_overdue --check`` (real ansible-playbook, the Qualys simulator with its
request log): it says what the cycle would do, from the real records and lease tables, writes nothing, and calls
Qualys read-only; the real cycle that follows then does what it said."""
from __future__ import annotations

import errno
import io
import re

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of
from qualys_sim.server import QualysSimulator

A, C, D = '02:20:00:00:00:21', '02:20:00:00:00:11', '02:20:00:00:00:12'
# the loopback ports this test may use for its own simulator
PORTS = range(48100, 48200)
# a request log line of a call that only reads (scan list, scan results, host list); launch and cancel write
READ_ONLY_CALL = re.compile(r' action=(list|fetch) -> 200$')


@pytest.fixture
def logged_sim():
    """A simulator of its own whose request log (one line per call: method, path, action, status) the test reads."""
    log = io.StringIO()
    for port in PORTS:
        try:
            sim = QualysSimulator(port=port, request_log=log)
            break
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
    else:
        pytest.fail('no free loopback port in %s-%s' % (PORTS[0], PORTS[-1]))
    sim.start()
    yield sim, log
    sim.stop()


def files_under(*directories):
    """``{path: bytes}`` of every file below ``directories``."""
    return {str(path): path.read_bytes() for directory in directories for path in sorted(directory.rglob('*')) if path.is_file()}


def test_check_mode_says_what_the_cycle_would_do_and_changes_nothing(tmp_path, ansible_env, logged_sim):
    sim, log = logged_sim
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    lab.write_leases('dhcp1', [('10.20.0.21', A)])
    assert lab.run(sim).returncode == 0 and len(launch_calls(sim)) == 1    # A's scan is pending
    sim.state.scan_action('*', 'process')
    # two laptops arrive: one reported by the hook, one seen only in the lease table
    lab.write_leases('dhcp1', [('10.20.0.21', A), ('10.20.0.11', C), ('10.20.0.12', D)])
    lab.append_spool('dhcp1', 'rs1 - - 0 kea lease %s 10.20.0.11 - - .\n' % C)
    # with no index the store would rebuild it: check mode must not write that either
    index = lab.cache_dir / 's1_roamscan-store-index'
    assert index.is_file()
    index.unlink()
    before = files_under(lab.cache_dir, lab.spool_dir('dhcp1'))
    logged = len(log.getvalue().splitlines())

    checked = lab.run(sim, options=('--check',))
    summary = summary_of(checked)
    assert checked.returncode == 0, checked.stdout[-4000:]
    assert 'would launch one scan of 10.20.0.11-10.20.0.12' in summary['check_mode']
    assert 'would credit 1 laptop(s) with a finished scan: %s' % A in summary['check_mode']
    assert summary['credited'] == [A] and summary['launched'] == [] and summary['acknowledged'] == []
    assert (summary['known'], summary['present'], summary['pending']) == (3, 3, 2)
    assert files_under(lab.cache_dir, lab.spool_dir('dhcp1')) == before
    calls = log.getvalue().splitlines()[logged:]
    assert calls and all(READ_ONLY_CALL.search(line) for line in calls), calls
    assert len(launch_calls(sim)) == 1

    # the real cycle does what the check said
    real = summary_of(lab.run(sim))
    assert real['credited'] == [A] and sorted(real['launched_targets']) == ['10.20.0.11', '10.20.0.12']
    assert real['check_mode'] is None and launch_calls(sim)[-1]['params']['ip'] == '10.20.0.11-10.20.0.12'


def test_check_mode_with_nothing_due_says_so(tmp_path, ansible_env, qualys_sim):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    checked = lab.run(qualys_sim, options=('--check',))
    summary = summary_of(checked)
    assert checked.returncode == 0 and 'would launch no scan: no present laptop is due' in summary['check_mode']
    assert not list(lab.cache_dir.glob('*roamscan-*')) and launch_calls(qualys_sim) == []
