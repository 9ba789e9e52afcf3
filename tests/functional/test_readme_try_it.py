# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's "Try it against the simulator" block, run as written: the simulator from its start
command, the controller directory scripts/demo --lease-file left, the two cycles, the report and
the inventory. Only the port, the demo directory and the 40 s wait (replaced by the block's own
clock command) differ, so parallel runs do not collide."""
from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

from cycle_lab import COLLECTION_ROOT, run_demo, summary_of

README_PORT = '8443'
README_DIR = '/tmp/roamscan-demo'


def try_it_blocks():
    readme = (COLLECTION_ROOT / 'README.md').read_text(encoding='utf-8')
    section = readme[readme.index('### Try it against the simulator'):]
    section = section[:section.index('\n### ', 1)]
    return re.findall(r'```sh\n(.*?)```', section, re.S)


def free_port():
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return str(probe.getsockname()[1])


def test_the_readme_try_it_block_launches_then_credits(tmp_path):
    start, commands = try_it_blocks()
    advance = re.search(r'^#   (PYTHONPATH=\$checkout/tests/support python3 -m qualys_sim --port 8443 --advance \d+)$',
                        commands, re.M).group(1)
    port, demo_dir = free_port(), tmp_path / 'demo'
    assert run_demo(demo_dir, '--lease-file').returncode == 0
    script = commands.replace(README_DIR, str(demo_dir)).replace(':' + README_PORT, ':' + port)
    script = re.sub(r'^sleep 40 .*$', advance.replace(README_PORT, port), script, flags=re.M)
    # a clean environment: the block sets every ANSIBLE_*/QUALYS_* it needs; ansible from this test's venv
    env = {'PATH': '%s:/usr/bin:/bin' % Path(sys.executable).parent, 'HOME': str(tmp_path)}
    sim = subprocess.Popen(['bash', '-c', 'exec env ' + start.strip().replace(README_PORT, port)], cwd=str(COLLECTION_ROOT),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert sim.stdout.readline().strip() == 'http://127.0.0.1:%s' % port
        proc = subprocess.run(['bash', '-euo', 'pipefail', '-c', script], cwd=str(COLLECTION_ROOT), env=env,
                              capture_output=True, text=True, timeout=600, check=False)
    finally:
        sim.terminate()
        dummy, log = sim.communicate(timeout=10)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    runs = proc.stdout.split('PLAY RECAP')   # one per ansible-playbook run: cycle, cycle, report
    first, second = summary_of(runs[0]), summary_of(runs[1])
    assert len(first['launched']) == 1 and len(first['launched_targets']) == 3 and first['credited'] == []
    assert len(second['credited']) == 3 and second['launched'] == []
    assert re.search(r'POST /api/2\.0/fo/scan/ action=launch -> 200', log) and 'sim-password' not in log
    assert 'roamscan coverage' in proc.stdout and (demo_dir / 'controller' / 'coverage.html').is_file()
    assert proc.stdout.count('mac-0277000') >= 3   # ansible-inventory --graph lists the three laptops
