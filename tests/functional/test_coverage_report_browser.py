# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report as a user sees it: playbook roamscan.qualys.coverage_report over a realistic store
(3000 devices, six months of daily history, hostile host names) rendered by headless Debian Chromium, driven
over its DevTools protocol: charts drawn, nothing wider than a 1280-px window, no script run, no request but
the page itself, injected markup shown as text, and the page's figures equal to the JSON export's.

After a visible change of the page, refresh the README's screenshot and review it:
    ROAMSCAN_UPDATE_SCREENSHOT=1 python -m pytest -c tests/pytest.ini tests/functional/test_coverage_report_browser.py
"""
from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from chromium import Chromium, chromium_path
from cycle_lab import CycleLab
from report_fleet import HOSTILE_NAMES, TWO_NIC, aliases, fleet

DEVICES, DAYS = 3000, 180
SUPPORT = Path(__file__).resolve().parents[1] / 'support'

pytestmark = pytest.mark.skipif(chromium_path() is None, reason='chromium is not installed (scripts/install-system-deps)')


@pytest.fixture(name='report')
def report_fixture(tmp_path, ansible_env):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    subprocess.run([sys.executable, str(SUPPORT / 'report_fleet.py'), str(lab.cache_dir), str(DEVICES), str(DAYS)],
                   env=lab.env, check=True, timeout=600)
    page = tmp_path / 'site' / 'coverage.html'
    page.parent.mkdir()
    # the same fleet report_fleet.py seeded (its MACs do not depend on the time)
    two_nic = aliases(fleet(DEVICES, datetime.datetime.now(datetime.timezone.utc)))
    proc = lab.run(playbook='roamscan.qualys.coverage_report',
                   extra_vars={'roamscan_report_path': str(page), 'roamscan_report_days': DAYS, 'roamscan_device_aliases': two_nic})
    assert proc.returncode == 0, proc.stdout[-3000:]
    return page


def test_report_in_a_real_browser(report, tmp_path):
    exported = json.loads(report.with_name('coverage-devices.json').read_text())
    summary = exported['summary']
    with Chromium(tmp_path / 'profile') as browser:
        visit = browser.visit(report.as_uri(), width=1280)
        shot = visit.screenshot(tmp_path / 'coverage.png', height=1100)
        evaluate = visit.evaluate
        assert shot.stat().st_size > 10000
        if os.environ.get('ROAMSCAN_UPDATE_SCREENSHOT'):
            shutil.copy(shot, Path(__file__).resolve().parents[2] / 'docs' / 'coverage_report.png')
        # the charts are drawn: one point per day of history, one bar per age bucket
        assert evaluate("document.querySelectorAll('#chart-coverage circle.point').length") == DAYS
        assert evaluate("document.querySelector('#chart-coverage polyline').points.numberOfItems") == DAYS
        assert evaluate("document.querySelectorAll('#chart-ages rect.bar').length") == len(summary['ages'])
        assert evaluate("document.querySelectorAll('#chart-api rect.bar').length") == DAYS
        assert evaluate("document.querySelector('#chart-coverage').getBoundingClientRect().height") > 100
        # laid out for a laptop screen
        assert evaluate('document.documentElement.scrollWidth') <= 1280
        # nothing ran, nothing was fetched
        assert visit.dialogs == []
        assert visit.requests == [report.as_uri()]
        assert evaluate("document.querySelectorAll('script, img, iframe, object, embed').length") == 0
        assert "script-src" not in evaluate("document.querySelector('meta[http-equiv=Content-Security-Policy]').content")
        assert "default-src 'none'" in evaluate("document.querySelector('meta[http-equiv=Content-Security-Policy]').content")
        # the hostile host names and identity values are text in the device tables
        cells = evaluate("[...document.querySelectorAll('#overdue td, #due-soon td')].map(cell => cell.textContent)")
        shown = [name for name in HOSTILE_NAMES if name in cells]
        assert shown == list(HOSTILE_NAMES)
        rows = evaluate("[...document.querySelectorAll('#overdue tbody tr')].map(r => [...r.cells].map(c => c.textContent))")
        header = evaluate("[...document.querySelectorAll('#overdue thead th')].map(c => c.textContent)")
        by_name = {row[header.index('Host name')]: row for row in rows}
        for name in HOSTILE_NAMES:
            assert by_name[name][header.index('Identities')].endswith(', vpn_cert:' + name)
        # a device of two identities is one row that shows both, with its source
        two_nic = [row for row in rows if row[header.index('Device')] == TWO_NIC]
        assert len(two_nic) == 1
        assert two_nic[0][header.index('Identities')] == ', '.join(aliased for aliased in exported_identities(exported, TWO_NIC))
        assert two_nic[0][header.index('Identities')].count('mac:') == 2 and 'dhcp ' in two_nic[0][header.index('Sources')]
        # the page's figures are the export's
        figures = evaluate("Object.fromEntries([...document.querySelectorAll('.kpi')]"
                           ".map(k => [k.lastChild.textContent, k.firstChild.textContent]))")
        assert figures['known devices'] == str(summary['counts']['known']) == str(DEVICES - 1)   # two MACs, one device
        # the headline is the not-overdue share, the figure the history keeps for each day
        assert evaluate("document.querySelector('#share strong').textContent") == figures['not overdue']
        assert evaluate("document.querySelector('#window-share').textContent").startswith('Seen and scanned in the window: ')
        assert figures['overdue'] == str(summary['counts']['overdue'])
        assert figures['present now'] == str(summary['counts']['present'])
        assert figures['due within 7 days'] == str(sum(1 for row in exported['devices']
                                                       if not row['overdue'] and row['due_in_days'] <= 7))
        reasons = evaluate("Object.fromEntries([...document.querySelectorAll('#overdue-reasons tbody tr')]"
                           ".map(r => [r.cells[0].textContent, r.cells[1].textContent]))")
        assert sorted(int(value) for value in reasons.values()) == sorted(summary['overdue_reasons'].values())
        assert sum(summary['overdue_reasons'].values()) == summary['counts']['overdue']
        shown_rows = evaluate("document.querySelectorAll('#overdue tbody tr').length")
        assert shown_rows == min(summary['counts']['overdue'], 500)


def exported_identities(exported, name):
    return next(row['identities'] for row in exported['devices'] if row['name'] == name)
