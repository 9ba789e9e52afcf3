# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lease_events run as Ansible runs it: its output stays what the cycle consumes, rs2 spools included."""
from __future__ import annotations

import pytest

from ansible.module_utils.testing import patch_module_args

from ansible_collections.roamscan.qualys.plugins.modules import lease_events, presence_events
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.spool_samples import (
    MAC1,
    MAC2,
    MAC3,
    dhcp_server,
    listing,
)

ARGS = {'server': 'dnsmasq', 'spool_dir': 'spool', 'lease_file': 'dnsmasq.leases'}


@pytest.fixture(autouse=True)
def server(tmp_path, monkeypatch):
    return dhcp_server(tmp_path, monkeypatch)


@pytest.mark.parametrize('patch_ansible_module', [ARGS], indirect=True)
def test_events_and_leases_keep_their_shape_and_other_sources_are_counted(patch_ansible_module, run_module):
    failed, result = run_module(lease_events.main)
    assert not failed
    assert set(result) >= {'changed', 'events', 'leases', 'cursor', 'skipped_lines', 'acked_segments', 'now'}
    lease, release = result['events']
    assert lease == {'id': lease['id'], 'time': lease['time'], 'server': 'dnsmasq', 'kind': 'lease', 'mac': MAC1,
                     'ip': '10.77.0.101', 'hostname': 'laptop-1', 'lease_expires': lease['lease_expires']}
    assert (release['kind'], release['mac'], release['lease_expires']) == ('release', MAC2, None)  # an rs2 DHCP record
    assert result['leases'] == [
        {'mac': MAC1, 'ip': '10.77.0.101', 'hostname': 'laptop-1', 'expires': '2033-05-18T03:33:20Z', 'state': 'active'},
        {'mac': MAC3, 'ip': '10.77.0.103', 'hostname': None, 'expires': '2033-05-18T03:33:20Z', 'state': 'active'}]
    # the VPN record is no lease event: counted, not returned (presence_events returns it)
    assert result['skipped_lines'] == {'count': 2, 'reasons': {'not_a_lease_event': 1, 'truncated': 1}}


@pytest.mark.parametrize('patch_ansible_module', [ARGS], indirect=True)
def test_a_cursor_of_either_module_acknowledges_for_the_other(patch_ansible_module, run_module, server):
    events = run_module(lease_events.main)[1]
    with patch_module_args({'source': 'dnsmasq', 'spool_dir': 'spool', 'ack': events['cursor'], 'include_table': False}):
        observed = run_module(presence_events.main)[1]
    assert observed['changed'] and observed['observations'] == []
    with patch_module_args(dict(ARGS, ack=observed['cursor'], include_leases=False, include_events=False)):
        acked = run_module(lease_events.main)[1]
    assert not acked['changed'] and acked['cursor'] is None and acked['events'] == []


@pytest.mark.parametrize('patch_ansible_module', [dict(ARGS, _ansible_check_mode=True)], indirect=True)
def test_check_mode_changes_nothing(patch_ansible_module, run_module, server):
    before = listing(str(server / 'spool'))
    result = run_module(lease_events.main)[1]
    assert [e['mac'] for e in result['events']] == [MAC1, MAC2] and result['cursor'] is None
    assert listing(str(server / 'spool')) == before


@pytest.mark.parametrize('patch_ansible_module', [dict(ARGS, lease_file='none.leases')], indirect=True)
def test_missing_lease_file_fails_clearly(patch_ansible_module, run_module):
    failed, result = run_module(lease_events.main)
    assert failed and 'lease file none.leases does not exist' in result['msg'] and result['events'] == []
