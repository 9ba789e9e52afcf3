# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""neighbor_table, arp_sweep and liveness_probe run as Ansible runs them: what they return, and
that the active ones refuse before any socket is opened."""
from __future__ import annotations

import json

import pytest

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.roamscan.qualys.plugins.module_utils import _raw_probe
from ansible_collections.roamscan.qualys.plugins.modules import arp_sweep, liveness_probe, neighbor_table

NEIGH = json.dumps([
    {'dst': '10.77.0.100', 'dev': 'br0', 'lladdr': '02:77:00:00:0a:01', 'confirmed': 3, 'state': ['REACHABLE']},
    {'dst': '10.77.0.101', 'dev': 'br0', 'confirmed': 60, 'state': ['FAILED']}])


@pytest.fixture
def no_sockets(monkeypatch):
    """Any socket a probe opens fails the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError('a socket was opened')
    monkeypatch.setattr(_raw_probe.socket, 'socket', forbidden)


@pytest.fixture
def ip_neigh(monkeypatch):
    calls = []

    def run_command(module, command, **kwargs):
        calls.append(command)
        return 0, NEIGH, ''
    monkeypatch.setattr(AnsibleModule, 'get_bin_path', lambda module, name, required=False: '/usr/sbin/' + name)
    monkeypatch.setattr(AnsibleModule, 'run_command', run_command)
    return calls


@pytest.mark.parametrize('patch_ansible_module', [{'source_host': 'dhcp1', 'interfaces': ['br0']}], indirect=True)
def test_neighbor_table_returns_confirmed_entries(patch_ansible_module, run_module, ip_neigh):
    failed, result = run_module(neighbor_table.main)
    assert not failed and result['changed'] is False
    assert [(o['ip'], o['identity']['value'], o['why']) for o in result['observations']] == [('10.77.0.100', '02:77:00:00:0a:01', 'reachable')]
    assert result['skipped'] == {'not_confirmed': 1}
    assert ip_neigh == [['/usr/sbin/ip', '-statistics', '-json', '-4', 'neigh', 'show']]


@pytest.mark.parametrize('patch_ansible_module', [
    {'interface': 'br0', 'allow': [], 'targets': [{'ip': '10.77.0.100'}]},
    {'interface': 'br0', 'allow': ['10.77.0.0/24'], 'targets': [{'ip': '10.77.0.100'}, {'ip': '10.78.0.1'}]},
    {'interface': 'br0', 'allow': ['10.77.0.0/24'], 'targets': [{'ip': '10.77.0.100', 'mac': 'x'}]},
], indirect=True)
def test_liveness_probe_refuses_before_opening_a_socket(patch_ansible_module, run_module, no_sockets):
    failed, result = run_module(liveness_probe.main)
    assert failed and ('allow-list' in result['msg'] or 'nothing sent' in result['msg']), result
    assert result['packets_sent'] == {}


@pytest.mark.parametrize('patch_ansible_module', [
    {'interface': 'br0', 'allow': [], 'subnets': ['10.77.0.0/24']},
    {'interface': 'br0', 'allow': ['10.77.0.0/25'], 'subnets': ['10.77.0.0/24']},
], indirect=True)
def test_arp_sweep_refuses_before_opening_a_socket(patch_ansible_module, run_module, no_sockets):
    failed, result = run_module(arp_sweep.main)
    assert failed and 'allow-list' in result['msg'] and result['packets_sent'] == 0, result


@pytest.mark.parametrize('patch_ansible_module', [
    {'interface': 'br0', 'allow': ['10.77.0.0/24'], 'targets': [], 'rate': 0},
    {'interface': 'br0', 'allow': ['10.77.0.0/24'], 'targets': [], 'tcp_ports': [0]},
], indirect=True)
def test_liveness_probe_rejects_bad_pacing_and_ports(patch_ansible_module, run_module, no_sockets):
    failed, result = run_module(liveness_probe.main)
    assert failed and ('rate' in result['msg'] or 'tcp_ports' in result['msg'])
