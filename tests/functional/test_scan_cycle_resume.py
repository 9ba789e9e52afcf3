# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cycle killed while Qualys answers its launch never leads to a second scan, even when that scan
has finished by the next cycle. Real ansible-playbook against the simulator; checked through what a
user sees - the simulator's scans and call log, and the laptop records via the inventory plugin -
not through the playbook's task names."""
from __future__ import annotations

import os
import signal
import time

import pytest

from cycle_lab import CycleLab, launch_calls

A, B = '02:77:00:00:0a:01', '02:77:00:00:0b:02'
HOST = {A: 'mac-027700000a01', B: 'mac-027700000b02'}


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def wait_for(condition, what, timeout=120):
    deadline = time.time() + timeout
    while not condition():
        if time.time() > deadline:
            raise AssertionError('timed out waiting for %s' % what)
        time.sleep(0.01)


def kill_while_qualys_answers_the_launch(lab, sim):
    """SIGKILL the whole cycle while the launch call is in flight; Qualys still creates the scan."""
    sim.state.add_fault('slow', api='scan:launch', count=1, seconds=3)
    proc = lab.spawn(sim, extra_vars={'roamscan_cycle_lock_seconds': 15})
    wait_for(lambda: launch_calls(sim) or proc.poll() is not None, 'the launch call')
    assert proc.poll() is None, 'the cycle ended before its launch answer:\n%s' % proc.communicate()[0][-3000:]
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    wait_for(lambda: sim.state.scans, 'the simulator to create the scan', timeout=30)
    records, dummy = lab.inventory()
    assert sorted(r['pending']['ip'] for r in records.values() if r['pending'] and r['pending']['scan_ref'] is None) == \
        ['10.77.0.100', '10.77.0.101'], 'not killed between the intent and the recorded launch'
    lab.wait_until_lease_expires()   # the killed cycle never released the store's lease: the next one takes it over
    return sim.state.scans[0]['ref']


@pytest.mark.parametrize('outcome', ['process', 'cancel'])
def test_killed_during_launch_then_scan_ended_resumes_that_scan_and_never_launches_again(lab, qualys_sim, outcome):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    ref = kill_while_qualys_answers_the_launch(lab, qualys_sim)
    qualys_sim.state.scan_action(ref, outcome)          # finished and processed, or canceled
    qualys_sim.state.advance(15 * 60)                  # the next scheduled cycle
    assert qualys_sim.state.snapshot()['scans'][0]['state'] == ('Finished' if outcome == 'process' else 'Canceled')

    second = lab.run(qualys_sim)
    assert second.returncode == 0, second.stdout[-3000:]
    assert len(qualys_sim.state.scans) == 1 and len(launch_calls(qualys_sim)) == 1
    records, dummy = lab.inventory()
    assert {r['pending']['scan_ref'] for r in records.values()} == {ref}

    third = lab.run(qualys_sim)
    assert third.returncode == 0, third.stdout[-3000:]
    records, dummy = lab.inventory()
    if outcome == 'process':
        # credited by the one scan; nothing left to launch
        assert [(r['last_scan_ref'], r['pending']) for r in records.values()] == [(ref, None), (ref, None)]
        assert len(launch_calls(qualys_sim)) == 1
    else:
        # the canceled scan credits nobody; the laptops are overdue and get a NEW intent with a new title
        assert all(r['last_scanned'] is None for r in records.values())
        calls = launch_calls(qualys_sim)
        assert len(calls) == 2 and calls[1]['params']['scan_title'] != calls[0]['params']['scan_title']
        assert {r['pending']['scan_ref'] for r in records.values()} == {qualys_sim.state.scans[1]['ref']}


def test_resumed_launch_holds_when_qualys_cannot_tell_and_launches_nothing(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    ref = kill_while_qualys_answers_the_launch(lab, qualys_sim)
    qualys_sim.state.add_fault('http_503_html', api='scan:list', count=4)   # every retry of the lookup
    held = lab.run(qualys_sim)
    assert held.returncode != 0
    assert 'nothing was launched' in held.stdout and qualys_sim.password not in held.stdout + held.stderr
    assert len(launch_calls(qualys_sim)) == 1
    records, dummy = lab.inventory()
    assert all(r['pending']['scan_ref'] is None for r in records.values())   # still unresolved, for the next run

    again = lab.run(qualys_sim)
    assert again.returncode == 0, again.stdout[-3000:]
    records, dummy = lab.inventory()
    assert {r['pending']['scan_ref'] for r in records.values()} == {ref} and len(launch_calls(qualys_sim)) == 1
