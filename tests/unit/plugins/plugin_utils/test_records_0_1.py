# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Laptop records written by the 0.1 release (fixtures/records_0_1, see its README) are read unchanged and
lead to the same decisions."""
from __future__ import annotations

import copy
import json
import os
import shutil
from pathlib import Path

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _confirm, _coverage, _decide, _summary
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import upgrade_record
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import read_settings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import open_store

FIXTURES = Path(__file__).parent / 'fixtures' / 'records_0_1'
EXPECTED = json.loads((FIXTURES / 'expected.json').read_text())
NOW = EXPECTED['now']


@pytest.fixture
def store(tmp_path):
    shutil.copytree(FIXTURES / 'facts', tmp_path / 'facts')
    return open_store({'plugin': 'jsonfile', 'connection': str(tmp_path / 'facts'), 'timeout': 0})


def as_read(records):
    """The 0.1 records as today's store hands them out: unchanged but for their identity, source and authority."""
    return {mac: upgrade_record(copy.deepcopy(record)) for mac, record in records.items()}


def without_identity(items):
    """Entries of today's stages as 0.1 gave them: their ``identity`` is their MAC, 0.1 named them by ``mac`` only."""
    assert all(item['identity'] == item['mac'] for item in items)
    return [{key: value for key, value in item.items() if key != 'identity'} for item in items]


def test_records_of_0_1_are_read_unchanged(store):
    records = json.loads((FIXTURES / 'records.json').read_text())
    assert store.all() == as_read(records)
    assert all(record['identity'] == {'kind': 'mac', 'value': mac} and record['authority'] == 'table'
               and record['source'] == {'kind': 'dhcp', 'host': record['dhcp_server']} for mac, record in store.all().items())
    assert store.corrupt == []


def test_today_s_stages_decide_as_0_1_did_on_its_records(store):
    records = store.all()
    plan = _decide.plan(copy.deepcopy(records), NOW, 30, 500, 1)
    # added since 0.1: when the resumed intent was first recorded (the earliest launched_at of its laptops)
    intended_at = plan.pop('intended_at')
    # added since 0.1: the due laptops that wait (none while an intent is resumed)
    assert (plan.pop('held_back'), plan.pop('held_back_count')) == ([], 0)
    plan['targets'] = without_identity(plan['targets'])
    assert plan == EXPECTED['plan']
    assert intended_at == min(r['pending']['launched_at'] for r in records.values()
                              if r['pending'] and r['pending']['title'] == plan['title'])
    assert without_identity(_decide.candidates(records, NOW, 30)) == EXPECTED['candidates']
    assert _decide.active_scans(records) == EXPECTED['active_scans']
    assert _summary.counts(records, NOW, 30) == EXPECTED['summary']
    report = _coverage.report(copy.deepcopy(records), [], NOW, read_settings({}))
    expected_coverage = dict(EXPECTED['coverage'])
    assert report['coverage'] == {key: value for key, value in expected_coverage.items() if key != 'overdue'}
    # 0.1 listed the overdue laptops most recently seen first, with these fields
    overdue = sorted(report['overdue'], key=lambda row: (row['last_seen'] or '', row['mac']), reverse=True)
    assert [{key: row[key] for key in expected_coverage['overdue'][0]} for row in overdue] == expected_coverage['overdue']
    scans = [{'ref': 'scan/1795000000.00002', 'state': 'Finished', 'done': True, 'processed': True,
              'launched': '2026-11-20T12:00:03Z', 'scanned': ['10.77.0.102'], 'not_scanned': []}]
    changed, outcome = _confirm.confirm(records, scans, NOW, 24)
    outcome = {kind: without_identity(items) for kind, items in outcome.items()}
    assert (sorted(changed), outcome) == (EXPECTED['confirm']['changed'], EXPECTED['confirm']['outcome'])
    assert records['02:77:00:00:0c:03'] == as_read({'r': EXPECTED['confirm']['record']})['r']


def test_a_0_1_record_written_back_keeps_the_host_s_other_facts(store, tmp_path):
    records = store.all()
    records['02:77:00:00:0a:01']['hostname'] = 'alice-new'
    assert store.save(records, ['02:77:00:00:0a:01']) == 1
    again = open_store({'plugin': 'jsonfile', 'connection': str(tmp_path / 'facts'), 'timeout': 0})
    assert again.all()['02:77:00:00:0a:01']['hostname'] == 'alice-new'
    facts = json.loads(json.loads((tmp_path / 'facts' / 's1_mac-027700000a01').read_text())['__payload__'])
    assert facts['owner'] == 'alice'


def test_records_of_0_1_move_to_keys_that_flushing_the_laptop_hosts_leaves_alone(store, tmp_path):
    records = store.all()
    for name in os.listdir(tmp_path / 'facts'):          # --flush-cache: every inventory host's facts cleared
        if name.startswith('s1_mac-') or name.startswith('mac-'):
            os.remove(tmp_path / 'facts' / name)
    again = open_store({'plugin': 'jsonfile', 'connection': str(tmp_path / 'facts'), 'timeout': 0})
    assert again.all() == records == as_read(json.loads((FIXTURES / 'records.json').read_text()))
    assert again.corrupt == []
