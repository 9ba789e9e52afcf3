# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cycle proves the Qualys login every cycle, even when nothing is due (real ansible-playbook, the simulator):
one small scan list call when no other call did, counted in the history, and a rotated password turns the run red."""
from __future__ import annotations

import json

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of

A = '02:77:00:00:0a:01'


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def history_today(lab):
    """Today's entry of the cycle history, as the jsonfile cache stores it."""
    stored = json.loads(next(lab.cache_dir.glob('*roamscan-history')).read_text())
    value = json.loads(stored['__payload__']) if '__payload__' in stored else stored
    return value['days'][-1]


def test_a_cycle_with_nothing_due_proves_the_login_with_one_small_call(lab, qualys_sim):
    proc = lab.run(qualys_sim)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert [(call['api'], call['params'].get('show_last')) for call in qualys_sim.state.calls] == [('scan:list', '1')]
    assert history_today(lab)['api_calls'] == {'login_check': 1}


def test_a_cycle_that_calls_qualys_anyway_makes_no_extra_call(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    assert lab.run(qualys_sim).returncode == 0
    assert len(launch_calls(qualys_sim)) == 1
    assert not [call for call in qualys_sim.state.calls if call['params'].get('show_last')]
    assert 'login_check' not in history_today(lab)['api_calls']


def test_a_rotated_password_fails_the_cycle_the_same_day_though_nothing_is_due(lab, qualys_sim):
    assert lab.run(qualys_sim).returncode == 0
    proc = lab.run(qualys_sim, env={'QUALYS_PASSWORD': 'rotated-yesterday'})
    summary = summary_of(proc)
    assert proc.returncode != 0 and summary['fault']['stage'] == 'launch'
    assert 'Bad Login/Password' in summary['fault']['msg'] and "account '%s'" % qualys_sim.username in summary['fault']['msg']
    assert 'rotated-yesterday' not in proc.stdout + proc.stderr


def test_the_check_can_be_turned_off(lab, qualys_sim):
    proc = lab.run(qualys_sim, extra_vars={'roamscan_credential_check': False})
    assert proc.returncode == 0 and qualys_sim.state.calls == []
