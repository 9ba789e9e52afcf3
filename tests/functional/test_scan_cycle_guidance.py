# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a new user sees when the set-up is wrong: the cycle (real ansible-playbook, the Qualys simulator) stops
with a message that says what to fix, and changes nothing it should not have."""
from __future__ import annotations

import json
import subprocess

import pytest

from cycle_lab import CycleLab, launch_calls, summary_of

A = '02:77:00:00:0a:01'
SPOOL_EVENT = 'rs1 - - 0 kea lease %s 10.77.0.100 - - .\n' % A


@pytest.fixture
def lab(tmp_path, ansible_env):
    lab = CycleLab(tmp_path / 'lab', ansible_env)
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    lab.append_spool('dhcp1', SPOOL_EVENT)
    return lab


def failure(proc):
    """The message of the run's last failed task (what the job log ends with)."""
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith('fatal: [localhost]: FAILED! => ')]
    assert lines, (proc.stdout + proc.stderr)[-4000:]
    return json.loads(lines[-1].split('=> ', 1)[1])['msg']


def snapshot(lab):
    """Every laptop record file and spool file, with its bytes and modification time."""
    files = list(lab.cache_dir.glob('s1_mac-*')) + list(lab.spool_dir('dhcp1').rglob('*'))
    return {str(path): (path.read_bytes(), path.stat().st_mtime_ns) for path in files if path.is_file()}


def test_a_controller_without_requests_is_refused_first_and_nothing_is_changed(lab, qualys_sim, tmp_path):
    assert lab.run(qualys_sim).returncode == 0          # a store with one laptop in it
    lab.append_spool('dhcp1', SPOOL_EVENT)
    before = snapshot(lab)
    shadow = tmp_path / 'shadow'
    (shadow / 'requests').mkdir(parents=True)
    (shadow / 'requests' / '__init__.py').write_text('raise ImportError("requests is not installed here")\n')
    proc = lab.run(qualys_sim, env={'PYTHONPATH': str(shadow)})
    summary = summary_of(proc)
    assert proc.returncode != 0 and summary['fault']['stage'] == 'collect'
    message = failure(proc)
    assert 'the Python package requests cannot be imported' in message and '-m pip install requests' in message
    assert snapshot(lab) == before and len(launch_calls(qualys_sim)) == 1   # the first run's launch only


@pytest.mark.parametrize('group_vars, named', [
    ({'roamscan_dhcp_group': 'dhcp_srvers'}, "group 'dhcp_srvers' (roamscan_dhcp_group) is not in the inventory"),
    ({'roamscan_dhcp_group': 'dhcp_spare'}, "group 'dhcp_spare' (roamscan_dhcp_group) has no hosts"),
])
def test_a_misspelled_or_empty_dhcp_group_is_named_with_the_groups_there_are(lab, qualys_sim, group_vars, named):
    inventory = json.loads((lab.root / 'inventory.yml').read_text())
    inventory['all']['children']['dhcp_spare'] = {'hosts': {}}
    (lab.root / 'inventory.yml').write_text(json.dumps(inventory))
    proc = lab.run(qualys_sim, extra_vars=group_vars)
    message = failure(proc)
    assert proc.returncode != 0 and named in message and 'groups in this inventory: dhcp_servers, dhcp_spare' in message
    assert qualys_sim.state.calls == [] and (lab.spool_dir('dhcp1') / 'current').read_text() == SPOOL_EVENT


def test_unset_qualys_settings_name_the_environment_variables(lab, qualys_sim):
    proc = lab.run(None)
    message = failure(proc)
    assert proc.returncode != 0
    assert 'set QUALYS_API_URL (or QUALYS_PLATFORM), QUALYS_USERNAME, QUALYS_PASSWORD' in message
    assert summary_of(proc)['fault']['stage'] == 'collect' and not list(lab.cache_dir.glob('s1_mac-*'))


@pytest.mark.parametrize('setting, value, variable', [
    ('roamscan_option_profile', 'Laptop Lite Scan', 'roamscan_option_profile'),
    ('roamscan_scanner', ['laptop_scaner_1'], 'roamscan_scanner'),
])
def test_a_typo_in_the_option_profile_or_scanner_names_the_variable_to_fix(lab, qualys_sim, setting, value, variable):
    proc = lab.run(qualys_sim, extra_vars={setting: value})
    message = summary_of(proc)['fault']['msg']
    assert proc.returncode != 0 and 'Qualys error 1905' in message and 'the variable %s' % variable in message
    assert qualys_sim.state.scans == []


def test_a_wrong_password_that_is_a_common_word_names_account_and_url_ungarbled(lab, qualys_sim):
    proc = lab.run(qualys_sim, env={'QUALYS_PASSWORD': 'scan'})
    message = summary_of(proc)['fault']['msg']
    assert proc.returncode != 0 and 'Bad Login/Password' in message
    assert "account '%s' at %s" % (qualys_sim.username, qualys_sim.url) in message and '********' not in message
    assert launch_calls(qualys_sim) == []


def test_a_password_that_is_a_common_word_leaves_the_results_readable(lab, qualys_sim, monkeypatch):
    monkeypatch.setattr(qualys_sim.state, 'password', 'scan')   # the session's simulator gets its own back
    proc = lab.run(qualys_sim, env={'QUALYS_PASSWORD': 'scan'})
    summary = summary_of(proc)
    assert proc.returncode == 0 and summary['launched_targets'] == ['10.77.0.100']
    assert 'roam********' not in proc.stdout and summary['launched'][0].startswith('scan/')
    assert summary_of(lab.run(qualys_sim, env={'QUALYS_PASSWORD': 'scan'}))['launched'] == []   # its scan is pending


def test_the_dhcp_server_that_failed_is_named_by_summary_and_failure(tmp_path, ansible_env, qualys_sim):
    lab = CycleLab(tmp_path / 'lab', ansible_env, servers=('dhcp1', 'dhcp2'))
    lab.write_leases('dhcp1', [('10.77.0.100', A)])
    lab.lease_file('dhcp2').unlink()
    proc = lab.run(qualys_sim)
    summary = summary_of(proc)
    assert proc.returncode != 0 and list(summary['dhcp_servers_not_reported']) == ['dhcp2']
    assert summary['launched_targets'] == ['10.77.0.100']     # the server that answered is still served
    assert failure(proc).startswith('The cycle did not complete (see the summary): DHCP server not read: dhcp2 (')


def list_laptops(lab, env=None):
    """ansible-inventory --list over the laptops plugin alone: (returncode, listing or None, output)."""
    full_env = dict(lab.env, ANSIBLE_INVENTORY_ENABLED='roamscan.qualys.laptops', **(env or {}))
    proc = subprocess.run([str(lab.venv_bin / 'ansible-inventory'), '-i', str(lab.root / 'roamscan.laptops.yml'), '--list'],
                          env=full_env, cwd=str(lab.root), capture_output=True, text=True, timeout=300, check=False)
    return proc, proc.stdout + proc.stderr


@pytest.mark.parametrize('config, reason', [
    ('fact_caching_timeout = 0', 'expires entries after 86400 seconds'),
    ('fact_caching = jsonfile', "The fact cache is 'memory'"),
])
def test_the_laptop_inventory_refuses_a_cache_that_forgets_instead_of_showing_empty_groups(lab, qualys_sim, config, reason):
    assert lab.run(qualys_sim).returncode == 0
    text = (lab.root / 'ansible.cfg').read_text()
    replacement = 'fact_caching_timeout = 86400' if 'timeout' in config else 'fact_caching = memory'
    assert config in text
    (lab.root / 'ansible.cfg').write_text(text.replace(config, replacement))
    proc, output = list_laptops(lab, {'ANSIBLE_INVENTORY_UNPARSED_FAILED': 'true'})
    assert proc.returncode != 0 and 'roamscan.qualys.laptops: refusing a fact cache that forgets laptops' in output
    assert reason in output
