# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main-job command without real DHCP (``scripts/demo --lease-file``; what ``scripts/demo``
does without root), so the command cannot silently rot: what it does, that it says so in plain
words, that it runs where no Python 3.12 is, and that its --dir never loses a user's files."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from cycle_lab import COLLECTION_ROOT, demo_cycles, run_demo

ALICE, BOB, CAROL = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'
INTERNAL_WORDS = ('null', 'None', 'launched_targets', 'not_alive', '"held"', '[]')


def test_demo_launches_once_then_credits_and_reports_coverage(tmp_path):
    proc = run_demo(tmp_path / 'demo', '--lease-file')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    first, second = demo_cycles(proc.stdout)
    assert first['launch_calls'] == [('10.77.0.100-10.77.0.102', 3)] and first['total'] == 1
    assert first['credited'] == [] and first['pending'] == 3
    assert second['credited'] == [ALICE, BOB]
    assert second['launched_targets'] == ['10.77.0.102'] and second['total'] == 2   # carol did not answer
    assert '2/3 laptops seen in the last 30 days were scanned within them (66.7%)' in proc.stdout
    page = tmp_path / 'demo' / 'coverage.html'
    assert 'HTML page: %s' % page in proc.stdout and '<strong>66.7%</strong>' in page.read_text()


def test_demo_speaks_plainly_names_the_laptops_and_says_who_is_covered(tmp_path):
    proc = run_demo(tmp_path / 'demo', '--lease-file')
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    out = proc.stdout
    for word in INTERNAL_WORDS:
        assert word not in out, 'internal word %r in the demo output' % word
    dummy, second = demo_cycles(out)
    assert second['not_credited'] == {CAROL: 'the scan did not find it alive'}
    assert 'credited as scanned:           alice-laptop (%s), bob-laptop (%s)' % (ALICE, BOB) in out
    assert 'for carol-laptop (10.77.0.102)' in out
    closing = out[out.index('=== what this means'):]
    assert 'alice-laptop (%s) until ' % ALICE in closing and 'bob-laptop (%s) until ' % BOB in closing
    assert 'carol-laptop (%s) was not credited (the scan did not find it alive)' % CAROL in closing
    assert 'queued again' in closing
    assert out.count('running ansible-playbook roamscan.qualys.scan_overdue ... done') == 2
    by_hand = out[out.index('=== the same by hand'):]
    assert 'python3 -m qualys_sim --port 8443 --fast' in by_hand
    assert 'ansible-playbook roamscan.qualys.scan_overdue' in by_hand and 'QUALYS_PASSWORD=sim-password' in by_hand


def test_demo_refuses_a_directory_with_a_users_files_and_deletes_nothing(tmp_path):
    precious = tmp_path / 'notes.txt'
    precious.write_text('my notes\n')
    proc = run_demo(tmp_path, '--lease-file')
    assert proc.returncode == 2
    assert 'was not made by the demo: nothing was deleted' in proc.stderr
    assert precious.read_text() == 'my notes\n' and sorted(os.listdir(tmp_path)) == ['notes.txt']


def test_demo_empties_a_directory_it_made_before(tmp_path):
    workdir = tmp_path / 'demo'
    first = run_demo(workdir, '--lease-file')
    assert first.returncode == 0, first.stderr[-3000:]
    leftover = workdir / 'controller' / 'left-from-the-first-run'
    leftover.write_text('x')
    second = run_demo(workdir, '--lease-file')
    assert second.returncode == 0, second.stderr[-3000:]
    assert not leftover.exists() and (workdir / 'coverage.html').exists()
    assert (COLLECTION_ROOT / 'galaxy.yml').exists()   # the symlink to the checkout was removed, not followed


def _without_python312():
    """A PATH of system directories only, or skip when this machine's system Python is 3.12 itself."""
    path = '/usr/sbin:/usr/bin:/sbin:/bin'
    if any(shutil.which(name, path=path) for name in ('python3.12',)) or os.path.exists('/usr/local/bin/python3.12'):
        pytest.skip('this machine has a system Python 3.12: nothing to hide')
    return path


def _python311_leg():
    """The 3.11 + ansible-core 2.19 environment scripts/bootstrap built for this checkout."""
    venv_dir = Path(os.environ.get('ROAMSCAN_VENV_DIR', COLLECTION_ROOT / '.venv'))
    leg = venv_dir / 'py311'
    if not (leg / '.roamscan-lock').is_file():
        pytest.skip('no py311 environment from scripts/bootstrap at %s' % leg)
    return leg


def test_the_readme_demo_command_runs_where_no_python_312_is(tmp_path):
    """A fresh Debian 12: python3.11 only. The demo builds (here: finds up to date) just the 3.11 leg
    and runs the whole main job on ansible-core 2.19."""
    path = _without_python312()
    venvs = tmp_path / 'venvs'
    venvs.mkdir()
    (venvs / 'py311').symlink_to(_python311_leg())
    home = tmp_path / 'home'   # no ~/.pyenv
    home.mkdir()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('ROAMSCAN_', 'PYENV', 'VIRTUAL_ENV', 'ANSIBLE_', 'PYTHON'))}
    env.update(PATH=path, HOME=str(home), ROAMSCAN_VENV_DIR=str(venvs), ROAMSCAN_DEMO_DIR=str(tmp_path / 'demo'))
    proc = subprocess.run(['scripts/demo', '--lease-file'], cwd=str(COLLECTION_ROOT), env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    assert 'no Python 3.12 found; the main job runs on Python 3.11 + ansible-core 2.19' in proc.stderr
    assert 'no Python 3.12 with venv found' not in proc.stderr
    assert os.readlink(venvs / 'main') == 'py311' and not (venvs / 'py312').exists()
    assert 'on ansible [core 2.19.' in proc.stdout
    dummy, second = demo_cycles(proc.stdout)
    assert second['credited'] == [ALICE, BOB] and second['launched_targets'] == ['10.77.0.102']
