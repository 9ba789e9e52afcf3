# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the hook roles' hook templates outside Ansible (tests and bench/).

The environment matches what the template module uses (trim_blocks, includes from the role's
templates directory, the quote filter); test_dhcp_hook_role.py checks that the role installs the
same text.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import jinja2

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
SERVERS = ('kea', 'dhcpd', 'dnsmasq')
VPN_HOOK_TEMPLATES = {'openvpn': 'roamscan-openvpn-hook.j2', 'ocserv': 'roamscan-ocserv-hook.j2',
                      'strongswan': 'roamscan-strongswan-hook.j2'}


def role_template_text(role, template, ansible_managed='rendered by tests', **variables):
    """``roles/<role>/templates/<template>`` rendered as Ansible's template module would."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(COLLECTION_ROOT / 'roles' / role / 'templates')),
                             keep_trailing_newline=True, trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters['quote'] = shlex.quote
    return env.get_template(template).render(ansible_managed=ansible_managed, **variables)


def _write_script(dest, text):
    dest = Path(dest)
    dest.write_text(text)
    os.chmod(dest, 0o755)
    return dest


def hook_text(server, spool_dir, root='', ansible_managed='rendered by tests'):
    """The lease hook the dhcp_hook role installs for ``server`` appending to ``<root><spool_dir>/current``."""
    return role_template_text('dhcp_hook', 'roamscan-lease-hook-%s.j2' % server, ansible_managed=ansible_managed,
                              dhcp_hook_root=root, dhcp_hook_spool_dir=str(spool_dir))


def render_hook(dest, spool_dir, server):
    """Write ``server``'s lease hook to ``dest`` (mode 0755) appending to ``<spool_dir>/current``; returns dest."""
    return _write_script(dest, hook_text(server, spool_dir))


def render_vpn_hook(server, dest, spool_dir, identity='cert'):
    """Write the vpn_hook role's hook for ``server`` (openvpn, ocserv or strongswan) to ``dest``; returns dest."""
    return _write_script(dest, role_template_text('vpn_hook', VPN_HOOK_TEMPLATES[server], vpn_hook_root='',
                                                  vpn_hook_spool_dir=str(spool_dir), vpn_hook_identity=identity))
