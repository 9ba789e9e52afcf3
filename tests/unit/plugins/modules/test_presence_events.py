# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""presence_events run as Ansible runs it, on a real spool directory and lease file."""
from __future__ import annotations

import os

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.roamscan.qualys.plugins.modules.presence_events import main
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.spool_samples import (
    DHCP_LEASE,
    MAC1,
    MAC2,
    MAC3,
    dhcp_server,
    hook_append,
    listing,
)

ARGS = {'source': 'dnsmasq', 'source_host': 'dhcp1', 'spool_dir': 'spool', 'table_path': 'dnsmasq.leases'}


@pytest.fixture(autouse=True)
def server(tmp_path, monkeypatch):
    """The module's relative paths (ARGS) point into this test's own DHCP server directory."""
    return dhcp_server(tmp_path, monkeypatch)


@pytest.mark.parametrize('patch_ansible_module', [ARGS], indirect=True)
def test_observations_of_rs1_and_rs2_records_and_the_lease_table(patch_ansible_module, run_module):
    failed, result = run_module(main)
    assert not failed and result['changed'] is False
    lease, release, vpn = result['observations']
    assert lease == {
        'id': lease['id'], 'source': {'kind': 'dnsmasq', 'host': 'dhcp1'}, 'event': 'start', 'why': 'lease',
        'identity': {'kind': 'mac', 'value': MAC1}, 'ip': '10.77.0.101', 'time': lease['time'],
        'until': lease['until'], 'aliases': {}, 'hostname': 'laptop-1', 'authority': 'table'}
    assert (release['event'], release['why'], release['identity']) == ('end', 'release', {'kind': 'mac', 'value': MAC2})
    assert (vpn['source'], vpn['event'], vpn['authority']) == ({'kind': 'openvpn', 'host': 'dhcp1'}, 'start', 'table')
    assert (vpn['identity'], vpn['aliases'], vpn['ip']) == ({'kind': 'vpn_cert', 'value': 'CN=laptop-3'}, {'hwaddr': MAC3}, '10.8.0.6')
    assert result['skipped_lines'] == {'count': 1, 'reasons': {'truncated': 1}}
    assert [(o['identity']['value'], o['ip'], o['event'], o['why'], o['until'], o['id']) for o in result['table']] == [
        (MAC1, '10.77.0.101', 'seen', 'active', '2033-05-18T03:33:20Z', None),
        (MAC3, '10.77.0.103', 'seen', 'active', '2033-05-18T03:33:20Z', None)]
    assert result['cursor'].startswith('rs1:') and result['acked_segments'] == 0


@pytest.mark.parametrize('patch_ansible_module', [ARGS], indirect=True)
def test_ack_removes_what_was_read_and_new_records_still_come(patch_ansible_module, run_module, server):
    first = run_module(main)[1]
    again = run_module(main)[1]  # not acknowledged: delivered again, same ids
    assert [o['id'] for o in again['observations']] == [o['id'] for o in first['observations']]
    hook_append(str(server / 'spool'), DHCP_LEASE.replace(' 11 ', ' 21 '))
    with patch_module_args(dict(ARGS, ack=again['cursor'], include_table=False)):
        acked = run_module(main)[1]
    assert acked['changed'] is True and acked['table'] == []
    assert [(o['identity']['value'], o['why']) for o in acked['observations']] == [(MAC1, 'lease')]
    assert acked['skipped_lines']['count'] == 0


@pytest.mark.parametrize('patch_ansible_module', [dict(ARGS, _ansible_check_mode=True)], indirect=True)
def test_check_mode_changes_nothing_and_still_shows_current(patch_ansible_module, run_module, server):
    before = listing(str(server / 'spool'))
    failed, result = run_module(main)
    assert not failed and len(result['observations']) == 3 and result['cursor'] is None
    assert listing(str(server / 'spool')) == before


@pytest.mark.parametrize('patch_ansible_module', [dict(ARGS, include_observations=False, include_table=False)],
                         indirect=True)
def test_neither_spool_nor_table_is_read_when_not_asked(patch_ansible_module, run_module, server):
    before = listing(str(server / 'spool'))
    result = run_module(main)[1]
    assert (result['observations'], result['table'], result['cursor']) == ([], [], None)
    assert listing(str(server / 'spool')) == before


@pytest.mark.parametrize('patch_ansible_module, message', [
    (dict(ARGS, spool_dir='nowhere'), 'spool directory nowhere does not exist'),
    (dict(ARGS, table_path='none.leases'), 'lease file none.leases does not exist'),
    (dict(ARGS, ack='rs1:0123456789abcdef:1.10'), 'cursor belongs to spool 0123456789abcdef'),
    (dict(ARGS, ack='rs1:;rm -rf /'), 'malformed cursor'),
], indirect=['patch_ansible_module'])
def test_unusable_spool_table_or_cursor_fail_clearly_and_remove_nothing(patch_ansible_module, message, run_module, server):
    before = listing(str(server / 'spool'))
    failed, result = run_module(main)
    assert failed and message in result['msg']
    assert result['observations'] == [] and result['cursor'] is None
    if 'ack' in patch_ansible_module:  # the record data stay (the lock file may now exist)
        assert {k: v for k, v in listing(str(server / 'spool')).items() if k != 'lock'} == before


@pytest.mark.parametrize('patch_ansible_module', [dict(ARGS, source_host=None)], indirect=True)
def test_source_host_defaults_to_this_machine(patch_ansible_module, run_module):
    result = run_module(main)[1]
    assert {o['source']['host'] for o in result['observations'] + result['table']} == {os.uname().nodename}
