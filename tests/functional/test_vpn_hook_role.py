# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The vpn_hook role on localhost under a path prefix: wrong values and conflicting server settings
fail fast and write nothing into the server configuration; a broken configuration is never
written. Needs openvpn and ocserv for the configuration checks."""
from __future__ import annotations

import json
import os
import shutil

import pytest

pytestmark = pytest.mark.skipif(not (shutil.which('openvpn') and shutil.which('ocserv') and shutil.which('unshare')),
                                reason='needs openvpn, ocserv and unshare for configuration validation')

OPENVPN_CONFIG = 'dev tun\nserver 10.88.0.0 255.255.255.0\ntopology subnet\ndh none\nca {pki}\ncert {pki}\nkey {pki}\n'


SWANCTL_CONFIG = '''connections {
  rw {
    pools = pool
    local {
      auth = psk
    }
    remote {
      auth = psk
    }
    children {
      net {
        local_ts = 0.0.0.0/0
      }
    }
  }
}
pools {
  pool {
    addrs = 10.91.0.10-10.91.0.20
  }
}
include conf.d/*.conf
'''
STRONGSWAN = {'vpn_hook_server': 'strongswan', 'vpn_hook_strongswan_children': [{'connection': 'rw', 'child': 'net'}]}
needs_charon = pytest.mark.skipif(not (os.path.exists('/usr/lib/ipsec/charon') and shutil.which('swanctl') and os.geteuid() == 0),
                                  reason='the strongSwan configuration check runs a throw-away charon (root)')


@pytest.fixture
def role(tmp_path, run_ansible):
    root = tmp_path / 'root'
    for sub in ('etc/openvpn/server', 'etc/ocserv', 'etc/swanctl/conf.d'):
        (root / sub).mkdir(parents=True)
    pki = root / 'pki.pem'
    pki.write_text('not parsed by --mktun, only checked for readability\n')
    (root / 'etc/openvpn/server/server.conf').write_text(OPENVPN_CONFIG.format(pki=pki))
    (root / 'etc/ocserv/ocserv.conf').write_text('auth = "plain[passwd=/dev/null]"\ntcp-port = 4443\n')
    (root / 'etc/swanctl/swanctl.conf').write_text(SWANCTL_CONFIG)

    def run(**variables):
        variables.setdefault('vpn_hook_root', str(root))
        variables.setdefault('vpn_hook_manage_service', False)
        playbook = tmp_path / 'play.yml'
        playbook.write_text(json.dumps([{'hosts': 'localhost', 'gather_facts': False,
                                         'roles': [{'role': 'roamscan.qualys.vpn_hook'}]}]))
        return run_ansible('ansible-playbook', '-i', 'localhost,', '-c', 'local', str(playbook), '-e', json.dumps(variables))
    run.root = root
    return run


@pytest.mark.parametrize('variables, message', [
    ({'vpn_hook_server': 'wireguard'}, 'value of vpn_hook_server must be one of: openvpn, ocserv, strongswan'),
    ({'vpn_hook_server': 'strongswan'}, 'vpn_hook_strongswan_children must list the swanctl children'),
    ({'vpn_hook_server': 'strongswan', 'vpn_hook_strongswan_children': [{'connection': 'rw { x', 'child': 'net'}]},
     'vpn_hook_strongswan_children must list the swanctl children'),
    ({'vpn_hook_server': 'strongswan', 'vpn_hook_strongswan_children': [{'connection': 'rw'}]},
     'missing required arguments: child'),
    ({'vpn_hook_server': 'ocserv', 'vpn_hook_identity': 'cert'}, 'ocserv reports user as the identity'),
    ({'vpn_hook_server': 'openvpn', 'vpn_hook_spool_dir': 'var/spool'}, 'vpn_hook_spool_dir must be an absolute path'),
    ({'vpn_hook_server': 'openvpn', 'vpn_hook_root': '/tmp/x/'}, 'vpn_hook_root must be empty or an absolute path'),
])
def test_bad_values_fail_fast(role, variables, message):
    proc = role(**variables)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
    assert not (role.root / 'usr').exists()


@pytest.mark.parametrize('server, config, line', [
    ('openvpn', 'etc/openvpn/server/server.conf', 'client-connect /usr/local/bin/their-script'),
    ('ocserv', 'etc/ocserv/ocserv.conf', 'connect-script = /usr/local/bin/their-script'),
    ('strongswan', 'etc/swanctl/swanctl.conf', 'updown = /usr/local/bin/their-script'),
])
def test_another_script_for_the_same_event_is_a_clear_error_and_nothing_changes(role, server, config, line):
    path = role.root / config
    path.write_text(path.read_text() + line + '\n')
    before = path.read_text()
    proc = role(**(STRONGSWAN if server == 'strongswan' else {'vpn_hook_server': server}))
    assert proc.returncode != 0
    assert 'already sets %s' % line.replace(' = ', ' ') in proc.stdout, proc.stdout[-3000:]
    assert path.read_text() == before


def test_a_configuration_openvpn_refuses_is_never_written(role):
    path = role.root / 'etc/openvpn/server/server.conf'
    path.write_text(path.read_text() + 'no-such-option 1\n')
    before = path.read_text()
    proc = role(vpn_hook_server='openvpn')
    assert proc.returncode != 0
    assert 'Unrecognized option or missing or extra parameter' in proc.stdout, proc.stdout[-3000:]
    assert path.read_text() == before


def test_openvpn_wiring_and_a_second_run_changes_nothing(role):
    first = role(vpn_hook_server='openvpn')
    assert first.returncode == 0, first.stdout[-3000:]
    config = (role.root / 'etc/openvpn/server/server.conf').read_text()
    assert config.endswith('config %s/etc/openvpn/server/roamscan-hook.conf\n' % role.root)
    second = role(vpn_hook_server='openvpn')
    assert second.returncode == 0 and 'changed=0' in second.stdout, second.stdout[-3000:]
    assert (role.root / 'etc/openvpn/server/server.conf').read_text() == config


def test_without_managing_the_configuration_only_role_files_are_written(role):
    config = role.root / 'etc/openvpn/server/server.conf'
    config.write_text(config.read_text() + 'client-connect /usr/local/bin/their-wrapper\n')
    before = config.read_text()
    proc = role(vpn_hook_server='openvpn', vpn_hook_manage_server_config=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert config.read_text() == before
    snippet = (role.root / 'etc/openvpn/server/roamscan-hook.conf').read_text()
    assert 'client-connect %s/usr/local/lib/roamscan/roamscan-openvpn-hook\n' % role.root in snippet
    assert (role.root / 'usr/local/lib/roamscan/roamscan-openvpn-hook').stat().st_mode & 0o777 == 0o755


@needs_charon
def test_strongswan_wiring_is_checked_by_a_real_charon_and_a_second_run_changes_nothing(role):
    first = role(**STRONGSWAN)
    assert first.returncode == 0, first.stdout[-3000:]
    config = (role.root / 'etc/swanctl/swanctl.conf').read_text()
    assert config.endswith('include %s/etc/swanctl/conf.d/roamscan-hook.conf\n' % role.root)
    snippet = (role.root / 'etc/swanctl/conf.d/roamscan-hook.conf').read_text()
    assert 'updown = %s/usr/local/lib/roamscan/roamscan-strongswan-hook\n' % role.root in snippet
    assert 'RUNNING HANDLER [roamscan.qualys.vpn_hook : Validate the complete server configuration]' in first.stdout
    second = role(**STRONGSWAN)
    assert second.returncode == 0 and 'changed=0' in second.stdout, second.stdout[-3000:]


@needs_charon
@pytest.mark.parametrize('broken, message', [
    ('  rw {\n    proposals = no-such-proposal\n  }\n', "loading connection 'rw' failed"),
    ('  rw {\n', 'invalid config file'),       # swanctl itself exits 0 on a syntax error
])
def test_a_configuration_charon_refuses_fails_the_role(role, broken, message):
    path = role.root / 'etc/swanctl/conf.d/broken.conf'
    path.write_text('connections {\n%s}\n' % broken)
    proc = role(**STRONGSWAN)
    assert proc.returncode != 0
    assert message in proc.stdout, proc.stdout[-3000:]
