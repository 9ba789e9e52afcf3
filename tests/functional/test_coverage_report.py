# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report over real cycles: each cycle folds its summary into the store's daily history, and
playbook roamscan.qualys.coverage_report writes the page and the CSV / JSON exports with the same numbers,
on jsonfile and on a real redis-server, with its site filter and its one-line summary."""
from __future__ import annotations

import csv
import json
import re

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of

A, B = '02:77:00:00:0a:01', '02:77:00:00:0b:02'


def kpis(html):
    """``{label: value}`` of the page's headline figures."""
    return dict((label, value) for value, label in re.findall(r'<div class="kpi"><b>([^<]*)</b>([^<]*)</div>', html))


@pytest.fixture(params=['jsonfile', 'redis'])
def lab(request, tmp_path, ansible_env):
    if request.param == 'jsonfile':
        return CycleLab(tmp_path / 'lab', ansible_env)
    redis_server = request.getfixturevalue('redis_server')
    env = dict(ansible_env, ANSIBLE_COLLECTIONS_SCAN_SYS_PATH='true')   # community.general from the ansible package
    return CycleLab(tmp_path / 'lab', env, cache='community.general.redis', cache_connection=redis_server.connection)


def test_cycles_keep_a_daily_history_and_the_report_shows_and_exports_it(lab, qualys_sim):
    lab.set_server_vars('dhcp1', roamscan_site='HQ <main>')
    lab.write_leases('dhcp1', [('10.77.0.100', A, 3600, 'alice-lt'), ('10.77.0.101', B, 3600, 'bob-lt')])
    first = lab.run(qualys_sim)
    assert first.returncode == 0, first.stdout[-3000:]
    qualys_sim.state.set_alive(['10.77.0.100'])
    qualys_sim.state.scan_action('*', 'process')
    second = summary_of(lab.run(qualys_sim))
    assert second['credited'] == [A] and len(launch_calls(qualys_sim)) == 2   # bob is launched again

    page = lab.root / 'report' / 'coverage.html'
    page.parent.mkdir()
    proc = lab.run(playbook='roamscan.qualys.coverage_report',
                   extra_vars={'roamscan_report_path': str(page), 'roamscan_report_due_soon_days': 31})
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert '1/2 laptops seen in the last 30 days were scanned within them (50.0%); 1 overdue (1 present now)' in proc.stdout

    history = json.loads((page.parent / 'coverage-history.json').read_text())['history']
    assert len(history) == 1
    today = history[0]
    assert (today['cycles'], today['launched_scans'], today['launched_targets'], today['credited']) == (2, 2, 3, 1)
    assert (today['known'], today['overdue']) == (2, 1) and today['covered_share'] == 0.5
    calls = today['api_calls']
    assert calls['scan_launch'] >= 2 and calls['scan_status'] >= 1 and today['api_calls_total'] == sum(calls.values())
    with open(page.parent / 'coverage-history.csv', encoding='utf-8') as handle:
        assert [row['launched_targets'] for row in csv.DictReader(handle)] == ['3']

    exported = json.loads((page.parent / 'coverage-devices.json').read_text())
    devices = {row['mac']: row for row in exported['devices']}
    assert devices[A]['overdue'] is False and devices[A]['due_in_days'] > 29
    assert devices[B]['overdue'] is True and devices[B]['overdue_reason'] == 'pending'   # bob's second scan is running
    assert {row['site'] for row in devices.values()} == {'HQ <main>'}
    with open(page.parent / 'coverage-devices.csv', encoding='utf-8') as handle:
        assert sorted(row['mac'] for row in csv.DictReader(handle)) == [A, B]

    html = page.read_text()
    summary = exported['summary']
    shown = kpis(html)
    assert shown['due within 31 days'] == '1'
    assert (shown['known devices'], shown['overdue'], shown['scan pending']) == (
        str(summary['counts']['known']), str(summary['counts']['overdue']), str(summary['counts']['pending'])) == ('2', '1', '1')
    assert '<strong>50.0%</strong>' in html and 'HQ &lt;main&gt;' in html and 'HQ <main>' not in html
    assert 'bob-lt' in html[html.index('<table id="overdue">'):] and 'alice-lt' in html[html.index('<table id="due-soon">'):]
    assert 'data-points="1"' in html   # one day of history: one point on the coverage chart

    elsewhere = lab.run(playbook='roamscan.qualys.coverage_report',
                        extra_vars={'roamscan_report_path': str(page), 'roamscan_report_site': 'Branch'})
    assert elsewhere.returncode == 0 and '0/0 laptops seen' in elsewhere.stdout and '0 known' in elsewhere.stdout


def test_check_mode_writes_no_history_and_no_report(tmp_path, ansible_env, qualys_sim):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    assert lab.run(qualys_sim).returncode == 0
    lab.run(qualys_sim, options=('--check',))
    page = tmp_path / 'coverage.html'
    checked = lab.run(playbook='roamscan.qualys.coverage_report', extra_vars={'roamscan_report_path': str(page)}, options=('--check',))
    assert checked.returncode == 0, checked.stdout[-3000:]
    assert not page.exists() and not (tmp_path / 'coverage-history.json').exists()
    assert lab.run(playbook='roamscan.qualys.coverage_report', extra_vars={'roamscan_report_path': str(page)}).returncode == 0
    assert json.loads((tmp_path / 'coverage-history.json').read_text())['history'][0]['cycles'] == 1
