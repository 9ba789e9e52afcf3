# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main-job command as root: ``scripts/demo`` with a real Kea and three udhcpc laptops in
network namespaces. It launches one scan, credits the laptops that answered, and leaves no
namespace or process behind."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cycle_lab import demo_cycles, run_demo

pytestmark = [pytest.mark.root, pytest.mark.slow]

ALICE, BOB, CAROL = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'


@pytest.fixture(name='workdir')
def workdir_fixture():
    path = Path(tempfile.mkdtemp(prefix='roamscan-demo-e2e-'))
    os.chmod(path, 0o755)   # the demo's Kea runs as _kea
    yield path / 'demo'
    shutil.rmtree(path, ignore_errors=True)


def still_a_dhcp_process(pid):
    try:
        command = Path('/proc', pid, 'cmdline').read_bytes()
    except FileNotFoundError:
        return False
    return b'kea-dhcp4' in command or b'udhcpc' in command


def test_demo_with_real_dhcp_launches_once_credits_and_cleans_up(workdir):
    proc = run_demo(workdir)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    leases = dict(re.findall(r'udhcpc PID +\d+ +(\S+) got (\S+)', proc.stdout))
    assert set(leases) == {ALICE, BOB, CAROL}
    first, second = demo_cycles(proc.stdout)
    assert len(first['launch_calls']) == 1 and first['total'] == 1 and first['launch_calls'][0][1] == 3
    assert sorted(first['launched_targets']) == sorted(leases.values())
    assert second['credited'] == [ALICE, BOB]
    assert second['launched_targets'] == [leases[CAROL]] and second['total'] == 2   # carol's lid is closed
    assert second['not_credited'] == {CAROL: 'the scan did not find it alive'}
    assert '2/3 laptops seen in the last 30 days were scanned within them (66.7%)' in proc.stdout
    assert (workdir / 'coverage.html').exists()
    assert re.search(r'deploying the roamscan hook into Kea with the dhcp_hook role \(ansible-playbook\) \.\.\. done', proc.stdout)
    closing = proc.stdout[proc.stdout.index('=== what this means'):]
    assert 'carol-laptop (%s) was not credited (the scan did not find it alive)' % CAROL in closing
    assert 'alice-laptop (%s) until ' % ALICE in closing and 'run scripts/demo --lease-file first' in proc.stdout

    cleanup = re.search(r'cleaned up: stopped PIDs ([\d ]+); network namespaces (\S+ \S+ \S+ \S+) deleted', proc.stdout)
    assert cleanup, proc.stdout[-3000:]
    namespaces = set(cleanup.group(2).split())
    assert not namespaces & set(subprocess.run(['ip', 'netns', 'list'], capture_output=True, text=True, check=True).stdout.split())
    assert not [pid for pid in cleanup.group(1).split() if still_a_dhcp_process(pid)]
