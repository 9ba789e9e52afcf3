# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/deploy_dhcp_hooks.yml puts the hook where the cycle's lease_events will read it."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat

import pytest

pytestmark = pytest.mark.skipif(not shutil.which('dnsmasq'), reason='needs dnsmasq for configuration validation')


@pytest.fixture
def deploy(tmp_path, run_ansible):
    root = tmp_path / 'root'
    (root / 'etc/dnsmasq.d').mkdir(parents=True)
    (root / 'etc/dnsmasq.conf').write_text('')
    inventory = tmp_path / 'inventory.json'

    def run(**server_vars):
        server_vars.update(ansible_connection='local', dhcp_hook_root=str(root), dhcp_hook_manage_service=False)
        inventory.write_text(json.dumps({'dhcp_servers': {'hosts': {'dhcp1': server_vars}}}))
        return run_ansible('ansible-playbook', '-i', str(inventory), 'roamscan.qualys.deploy_dhcp_hooks')
    run.root = root
    return run


def test_hook_and_snippet_follow_the_cycle_variables_and_a_second_run_changes_nothing(deploy):
    first = deploy(roamscan_dhcp_server='dnsmasq', roamscan_spool_dir='/srv/roamscan/spool')
    assert first.returncode == 0, first.stdout[-3000:]
    hook = deploy.root / 'usr/local/lib/roamscan/roamscan-lease-hook'
    assert stat.S_IMODE(os.stat(hook).st_mode) == 0o755
    assert str(deploy.root / 'srv/roamscan/spool') in hook.read_text()
    snippet = (deploy.root / 'etc/dnsmasq.d/roamscan-hook.conf').read_text()
    assert 'dhcp-script=%s' % hook in snippet
    assert (deploy.root / 'srv/roamscan/spool').is_dir()

    second = deploy(roamscan_dhcp_server='dnsmasq', roamscan_spool_dir='/srv/roamscan/spool')
    assert second.returncode == 0, second.stdout[-3000:]
    assert 'changed=0' in second.stdout, second.stdout[-3000:]


def test_a_server_without_roamscan_dhcp_server_fails_with_the_role_message(deploy):
    proc = deploy()
    assert proc.returncode != 0
    assert 'missing required arguments: dhcp_hook_server' in proc.stdout, proc.stdout[-3000:]


def closing_message(stdout):
    """The run's last task output: what the administrator must still add (the role's wiring message)."""
    recap = stdout.rindex('PLAY RECAP')
    last_task = stdout.rindex('TASK [', 0, recap)
    shown = re.search(r'ok: \[dhcp1\] => (\{.*?\n\})\n', stdout[last_task:recap], re.S)
    return stdout[last_task:recap].split(']', 1)[0], json.loads(shown.group(1))['msg'] if shown else []


def test_an_unwired_server_ends_the_run_with_the_line_to_add_and_a_wired_one_does_not(deploy):
    proc = deploy(roamscan_dhcp_server='dnsmasq')
    assert proc.returncode == 0, proc.stdout[-3000:]
    task, message = closing_message(proc.stdout)
    assert 'Say what the administrator must add to run the hook' in task
    assert message == ['The roamscan hook is installed but dnsmasq does not run it yet.',
                       'dnsmasq: add this line to %s/etc/dnsmasq.conf, then restart dnsmasq:' % deploy.root,
                       'conf-dir=%s/etc/dnsmasq.d/,*.conf' % deploy.root]

    (deploy.root / 'etc/dnsmasq.conf').write_text('conf-dir=%s/etc/dnsmasq.d/,*.conf\n' % deploy.root)
    wired = deploy(roamscan_dhcp_server='dnsmasq')
    assert wired.returncode == 0, wired.stdout[-3000:]
    assert 'does not run it yet' not in wired.stdout
