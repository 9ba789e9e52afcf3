# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The dhcp_hook role on localhost under a path prefix: wrong values fail fast, AppArmor rules land
in the right file, check mode writes nothing. Needs the Debian DHCP servers for validation."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat

import pytest

from hook import hook_text

pytestmark = pytest.mark.skipif(not (shutil.which('kea-dhcp4') and shutil.which('dhcpd') and shutil.which('dnsmasq')),
                                reason='needs kea-dhcp4, dhcpd and dnsmasq for configuration validation')


@pytest.fixture
def role(tmp_path, run_ansible):
    root = tmp_path / 'root'
    for sub in ('etc/dhcp', 'etc/kea', 'etc/apparmor.d/local'):
        (root / sub).mkdir(parents=True)
    (root / 'etc/dhcp/dhcpd.conf').write_text('authoritative;\n')
    (root / 'etc/dnsmasq.conf').write_text('')

    def run(*extra, **variables):
        variables.setdefault('dhcp_hook_root', str(root))
        variables.setdefault('dhcp_hook_manage_service', False)
        playbook = tmp_path / 'play.yml'
        playbook.write_text(json.dumps([{
            'hosts': 'localhost', 'gather_facts': False,
            'tasks': [{'ansible.builtin.include_role': {'name': 'roamscan.qualys.dhcp_hook'}},
                      {'ansible.builtin.debug': {'var': 'dhcp_hook_kea_hooks_library'}}],
        }]))
        return run_ansible('ansible-playbook', '-i', 'localhost,', '-c', 'local', *extra, str(playbook),
                           '-e', json.dumps(variables))
    run.root = root
    return run


@pytest.mark.parametrize('variables, message', [
    ({'dhcp_hook_server': 'infoblox'}, 'value of dhcp_hook_server must be one of: kea, dhcpd, dnsmasq'),
    ({}, 'missing required arguments: dhcp_hook_server'),
    ({'dhcp_hook_server': 'dnsmasq', 'dhcp_hook_spool_dir': 'var/spool'}, 'dhcp_hook_spool_dir must be an absolute path'),
    ({'dhcp_hook_server': 'dnsmasq', 'dhcp_hook_script_path': '/usr/local/lib/x"; rm -rf /'},
     'dhcp_hook_script_path must be an absolute path'),
    ({'dhcp_hook_server': 'dnsmasq', 'dhcp_hook_spool_dir': '/var/../etc'}, "or '..'"),
    ({'dhcp_hook_server': 'dnsmasq', 'dhcp_hook_root': 'relative'}, 'dhcp_hook_root must be empty or an absolute path'),
    ({'dhcp_hook_server': 'kea', 'dhcp_hook_manage_server_config': True}, 'must hold the contents of the "Dhcp4" object'),
    ({'dhcp_hook_server': 'kea', 'dhcp_hook_manage_server_config': True, 'dhcp_hook_kea_config': {'Dhcp4': {}}},
     'must hold the contents of the "Dhcp4" object'),
    ({'dhcp_hook_server': 'dhcpd', 'dhcp_hook_spool_owner': 'no-such-user'}, 'The spool owner no-such-user does not exist'),
    ({'dhcp_hook_server': 'dnsmasq', 'dhcp_hook_apparmor': 'maybe'}, 'value of dhcp_hook_apparmor must be one of'),
    ({'dhcp_hook_server': 'kea', 'dhcp_hook_kea_hooks_dir': '/nonexistent'}, 'libdhcp_run_script.so not found in /nonexistent'),
])
def test_wrong_values_fail_fast_with_a_message(role, variables, message):
    proc = role(**variables)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert not (role.root / 'usr').exists() or 'not found' in message or 'spool owner' in message


def test_broken_kea_config_is_rejected_by_kea_before_it_is_written(role):
    proc = role(dhcp_hook_server='kea', dhcp_hook_manage_server_config=True,
                dhcp_hook_kea_config={'valid-lifetime': 'soon'})
    assert proc.returncode != 0 and 'failed to validate' in proc.stdout
    assert not (role.root / 'etc/kea/kea-dhcp4.conf').exists()
    assert (role.root / 'usr/local/lib/roamscan/roamscan-lease-hook').exists()  # installed first


def test_apparmor_rules_go_to_the_local_file_for_dhcpd_and_into_the_profile_for_kea(role):
    (role.root / 'etc/apparmor.d/usr.sbin.dhcpd').write_text('profile dhcpd {\n  #include <local/usr.sbin.dhcpd>\n}\n')
    profile = 'profile kea-dhcp4 /usr/sbin/kea-dhcp4 {\n  /usr/sbin/kea-lfc Px,\n}\n'
    (role.root / 'etc/apparmor.d/usr.sbin.kea-dhcp4').write_text(profile)
    for server in ('dhcpd', 'kea'):
        proc = role(dhcp_hook_server=server, dhcp_hook_apparmor='enabled')
        assert proc.returncode == 0, proc.stdout[-3000:]
    local = (role.root / 'etc/apparmor.d/local/usr.sbin.dhcpd').read_text()
    script = '%s/usr/local/lib/roamscan/roamscan-lease-hook rix,' % role.root
    assert script in local and '%s/var/spool/roamscan/current w,' % role.root in local
    kea = (role.root / 'etc/apparmor.d/usr.sbin.kea-dhcp4').read_text()
    assert kea.index(script) < kea.rindex('}') and kea.startswith('profile kea-dhcp4')
    proc = role(dhcp_hook_server='kea', dhcp_hook_apparmor='enabled')
    assert 'changed=0' in proc.stdout


def test_check_mode_writes_nothing(role):
    proc = role('--check', dhcp_hook_server='dnsmasq')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert not (role.root / 'usr').exists() and not (role.root / 'etc/dnsmasq.d').exists()


def test_embedded_kea_gets_the_hooks_library_entry_as_data(role):
    proc = role(dhcp_hook_server='kea')
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert '"name": "%s/usr/local/lib/roamscan/roamscan-lease-hook"' % role.root in proc.stdout
    assert 'libdhcp_run_script.so' in proc.stdout and not (role.root / 'etc/kea/kea-dhcp4.conf').exists()


def without_managed_line(text):
    lines = text.split('\n')
    return '\n'.join(lines[:1] + lines[2:])


def test_each_server_gets_its_own_hook_and_the_single_hook_of_earlier_releases_is_replaced(role):
    hook = role.root / 'usr/local/lib/roamscan/roamscan-lease-hook'
    hook.parent.mkdir(parents=True)
    # what earlier releases installed there: one script with all three servers' branches
    hook.write_text('#!/bin/sh\n# roamscan.qualys lease hook for Kea (run_script), ISC dhcpd (execute) and dnsmasq\n'
                    'case ${1-} in leases4_committed) ;; dhcpd) ;; add|old|del) ;; esac\nexit 0\n')
    spool = '/var/spool/roamscan'
    for server in ('dnsmasq', 'dhcpd'):
        first = role(dhcp_hook_server=server)
        assert first.returncode == 0, first.stdout[-3000:]
        # the very text the tests and bench/ run (tests/support/hook.py), for this server only
        assert without_managed_line(hook.read_text()) == without_managed_line(hook_text(server, spool, root=str(role.root)))
        assert stat.S_IMODE(os.stat(hook).st_mode) == 0o755
        again = role(dhcp_hook_server=server)
        assert again.returncode == 0 and 'changed=0' in again.stdout, again.stdout[-3000:]
    assert 'DNSMASQ' not in hook.read_text() and 'leases4_committed' not in hook.read_text()


def wiring_message(stdout):
    """The lines of the role's closing message (what the administrator must add), [] when there is none."""
    marker = 'TASK [roamscan.qualys.dhcp_hook : Say what the administrator must add to run the hook]'
    shown = re.search(re.escape(marker) + r' \*+\nok: \[localhost\] => (\{.*?\n\})\n', stdout, re.S)
    return json.loads(shown.group(1))['msg'] if shown else []


def run_role(run_ansible, tmp_path, **variables):
    playbook = tmp_path / ('play-%s.yml' % variables['dhcp_hook_server'])
    playbook.write_text(json.dumps([{'hosts': 'localhost', 'gather_facts': False,
                                     'tasks': [{'ansible.builtin.include_role': {'name': 'roamscan.qualys.dhcp_hook'}}]}]))
    variables.setdefault('dhcp_hook_manage_service', False)
    return run_ansible('ansible-playbook', '-i', 'localhost,', '-c', 'local', str(playbook), '-e', json.dumps(variables))


@pytest.mark.parametrize('server, written', [
    ('kea', None),   # embedded Kea: the role writes no Kea file, the entry is given as data
    ('dhcpd', 'etc/dhcp/roamscan-hook.conf'),
    ('dnsmasq', 'etc/dnsmasq.d/roamscan-hook.conf'),
])
def test_a_fresh_path_prefix_gets_every_directory_it_needs_and_the_lines_to_add(tmp_path, run_ansible, server, written):
    root = tmp_path / 'empty-root'
    root.mkdir()
    proc = run_role(run_ansible, tmp_path, dhcp_hook_server=server, dhcp_hook_root=str(root))
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert (root / 'usr/local/lib/roamscan/roamscan-lease-hook').is_file() and (root / 'var/spool/roamscan').is_dir()
    if written:
        assert (root / written).is_file()
    message = wiring_message(proc.stdout)
    assert message[0] == 'The roamscan hook is installed but %s does not run it yet.' % server
    if server == 'kea':
        entry = json.loads(message[2])
        assert entry['library'].endswith('/libdhcp_run_script.so')
        assert entry['parameters'] == {'name': '%s/usr/local/lib/roamscan/roamscan-lease-hook' % root, 'sync': False}
    else:
        assert message[2] == {'dhcpd': 'include "%s/etc/dhcp/roamscan-hook.conf";' % root,
                              'dnsmasq': 'conf-dir=%s/etc/dnsmasq.d/,*.conf' % root}[server]


def test_a_managed_kea_on_a_fresh_prefix_gets_its_configuration_directory_and_no_message(tmp_path, run_ansible):
    root = tmp_path / 'empty-root'
    root.mkdir()
    config = {'interfaces-config': {'interfaces': []}, 'lease-database': {'type': 'memfile', 'persist': False}}
    proc = run_role(run_ansible, tmp_path, dhcp_hook_server='kea', dhcp_hook_root=str(root),
                    dhcp_hook_manage_server_config=True, dhcp_hook_kea_config=config)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert '%s/usr/local/lib/roamscan/roamscan-lease-hook' % root in (root / 'etc/kea/kea-dhcp4.conf').read_text()
    assert wiring_message(proc.stdout) == []


def test_no_message_when_the_configuration_already_names_the_hook(role):
    (role.root / 'etc/dhcp/dhcpd.conf').write_text('authoritative;\ninclude "%s/etc/dhcp/roamscan-hook.conf";\n' % role.root)
    (role.root / 'etc/default').mkdir()
    (role.root / 'etc/default/dnsmasq').write_text('CONFIG_DIR=%s/etc/dnsmasq.d,.dpkg-dist,.dpkg-old,.dpkg-new\n' % role.root)
    for server in ('dhcpd', 'dnsmasq'):
        proc = role(dhcp_hook_server=server)
        assert proc.returncode == 0, proc.stdout[-3000:]
        assert wiring_message(proc.stdout) == [], proc.stdout[-3000:]
