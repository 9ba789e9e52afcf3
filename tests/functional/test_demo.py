# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The README's main-job command without real DHCP (``scripts/demo --lease-file``; what ``scripts/demo``
does without root), so the command cannot silently rot."""
from __future__ import annotations

from cycle_lab import demo_cycles, run_demo

ALICE, BOB = '02:77:00:00:0a:01', '02:77:00:00:0b:02'


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
