# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Devices, not MACs: the cycle (real ansible-playbook, Qualys simulator) scans a device once, credits all of its
identities, links nothing on a copied host name, unlinks what the operator removes, and keeps the history through
ansible-playbook --flush-cache with the laptops inventory source in the inventory."""
from __future__ import annotations

import shutil
import subprocess

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of

A, B, C = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03'
HOST = {A: 'mac-027700000a01', B: 'mac-027700000b02', C: 'mac-027700000c03'}
ALIASES = [{'device': 'alice-laptop', 'identities': ['mac:' + A, 'mac:' + B]}]


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def launched(sim):
    return [call['params']['ip'] for call in launch_calls(sim)]


def test_two_macs_of_one_laptop_are_one_target_one_launch_and_both_credited(lab, qualys_sim, tmp_path):
    aliases = tmp_path / 'aliases.csv'
    aliases.write_text('device,identity\nalice-laptop,mac:%s\nalice-laptop,mac:%s\n' % (A, B))
    settings = {'roamscan_device_aliases_file': str(aliases)}
    # C names itself like A's laptop: recorded, never trusted
    lab.write_leases('dhcp1', [('10.77.0.100', A, 3600, 'alice-laptop'), ('10.77.0.101', B, 3600, 'alice-laptop'),
                               ('10.77.0.102', C, 3600, 'alice-laptop')])
    first = lab.run(qualys_sim, extra_vars=settings)
    assert first.returncode == 0, first.stdout[-3000:]
    assert len(launched(qualys_sim)) == 1
    assert sorted(summary_of(first)['launched_targets']) in (['10.77.0.100', '10.77.0.102'], ['10.77.0.101', '10.77.0.102'])
    alice_ip = next(ip for ip in summary_of(first)['launched_targets'] if ip != '10.77.0.102')

    qualys_sim.state.scan_action('*', 'process')
    second = lab.run(qualys_sim, extra_vars=settings)
    assert second.returncode == 0, second.stdout[-3000:]
    assert sorted(summary_of(second)['credited']) == sorted([C, A if alice_ip == '10.77.0.100' else B])
    records, dummy = lab.inventory()
    scanned = records[HOST[A]]['last_scanned']
    assert scanned and records[HOST[B]]['last_scanned'] == scanned           # credited on both identities
    via = records[HOST[B if alice_ip == '10.77.0.100' else A]]
    assert via['last_scan_via'] == (A if alice_ip == '10.77.0.100' else B)
    assert records[HOST[C]]['last_scanned'] and 'last_scan_via' not in records[HOST[C]]  # its own scan, not A's

    third = lab.run(qualys_sim, extra_vars=settings)
    assert third.returncode == 0 and summary_of(third)['launched'] == [] and len(launch_calls(qualys_sim)) == 1


def test_a_copied_host_name_is_not_linked_and_not_credited(lab, qualys_sim):
    settings = {'roamscan_device_aliases': ALIASES}
    lab.write_leases('dhcp1', [('10.77.0.100', A, 3600, 'alice-laptop')])
    lab.run(qualys_sim, extra_vars=settings)
    qualys_sim.state.scan_action('*', 'process')
    assert summary_of(lab.run(qualys_sim, extra_vars=settings))['credited'] == [A]
    # C arrives calling itself alice-laptop: it is scanned as itself, A's scan is not its own
    lab.write_leases('dhcp1', [('10.77.0.100', A, 3600, 'alice-laptop'), ('10.77.0.102', C, 3600, 'alice-laptop')])
    third = lab.run(qualys_sim, extra_vars=settings)
    assert third.returncode == 0, third.stdout[-3000:]
    assert summary_of(third)['launched_targets'] == ['10.77.0.102']
    records, dummy = lab.inventory()
    assert records[HOST[C]]['last_scanned'] is None and records[HOST[C]]['pending']['ip'] == '10.77.0.102'
    assert not records[HOST[C]].get('links')


def test_an_alias_the_operator_removes_is_unlinked_next_cycle(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    first = lab.run(qualys_sim, extra_vars={'roamscan_device_aliases': ALIASES, 'roamscan_max_active_scans': 2})
    assert first.returncode == 0 and len(summary_of(first)['launched_targets']) == 1
    second = lab.run(qualys_sim, extra_vars={'roamscan_max_active_scans': 2})
    assert second.returncode == 0, second.stdout[-3000:]
    assert len(summary_of(second)['launched_targets']) == 1
    assert sorted(summary_of(first)['launched_targets'] + summary_of(second)['launched_targets']) == ['10.77.0.100', '10.77.0.101']


def test_a_bad_alias_file_stops_the_cycle_before_anything_is_read_with_a_clear_message(lab, qualys_sim, tmp_path):
    bad = tmp_path / 'aliases.yml'
    bad.write_text('- device: [unclosed\n')
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    proc = lab.run(qualys_sim, extra_vars={'roamscan_device_aliases_file': str(bad)})
    assert proc.returncode != 0
    assert 'roamscan_device_aliases_file %s is not valid YAML' % bad in proc.stdout
    assert launch_calls(qualys_sim) == []


def test_history_survives_flush_cache_with_the_laptops_inventory_in_the_inventory(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A), ('10.77.0.101', B)])
    lab.run(qualys_sim)
    qualys_sim.state.scan_action('*', 'process')
    assert sorted(summary_of(lab.run(qualys_sim))['credited']) == [A, B]
    before, dummy = lab.inventory()

    inventory = lab.root / 'inventory'
    inventory.mkdir()
    shutil.copy(lab.root / 'inventory.yml', inventory / 'inventory.yml')
    shutil.copy(lab.root / 'roamscan.laptops.yml', inventory / 'roamscan.laptops.yml')
    env = {'ANSIBLE_INVENTORY_ENABLED': 'yaml,roamscan.qualys.laptops'}
    listed = subprocess.run([str(lab.venv_bin / 'ansible-inventory'), '-i', str(inventory), '--graph'],
                            env=dict(lab.env, **env), cwd=str(lab.root), capture_output=True, text=True, timeout=300, check=True)
    assert HOST[A] in listed.stdout and HOST[B] in listed.stdout       # the laptops are inventory hosts here
    flushed = lab.run(qualys_sim, env=env, options=('-i', str(inventory), '--flush-cache'))
    assert flushed.returncode == 0, flushed.stdout[-3000:]
    summary = summary_of(flushed)
    assert summary['launched'] == [] and len(launch_calls(qualys_sim)) == 1
    after, dummy = lab.inventory()
    assert {host: record['last_scanned'] for host, record in after.items()} == \
        {host: record['last_scanned'] for host, record in before.items()}
    assert all(record['last_scanned'] for record in after.values())
