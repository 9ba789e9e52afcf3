# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the hook roles' hook templates outside Ansible (tests and bench/)."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import jinja2

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
HOOK_TEMPLATE = COLLECTION_ROOT / 'roles' / 'dhcp_hook' / 'templates' / 'roamscan-lease-hook.j2'
VPN_HOOK_TEMPLATES = {'openvpn': 'roamscan-openvpn-hook.j2', 'ocserv': 'roamscan-ocserv-hook.j2'}


def render_role_template(role, template, dest, **variables):
    """Render ``roles/<role>/templates/<template>`` like Ansible's template module (trim_blocks,
    includes from the same directory, the quote filter) to ``dest`` (mode 0755); returns dest."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(COLLECTION_ROOT / 'roles' / role / 'templates')),
                             keep_trailing_newline=True, trim_blocks=True, undefined=jinja2.StrictUndefined)
    env.filters['quote'] = shlex.quote
    dest = Path(dest)
    dest.write_text(env.get_template(template).render(ansible_managed='rendered by tests', **variables))
    os.chmod(dest, 0o755)
    return dest


def render_hook(dest, spool_dir):
    """Write the lease hook to ``dest`` (mode 0755) appending to ``<spool_dir>/current``; returns dest."""
    return render_role_template('dhcp_hook', HOOK_TEMPLATE.name, dest, dhcp_hook_root='', dhcp_hook_spool_dir=str(spool_dir))


def render_vpn_hook(server, dest, spool_dir, identity='cert'):
    """Write the vpn_hook role's hook for ``server`` (openvpn or ocserv) to ``dest``; returns dest."""
    return render_role_template('vpn_hook', VPN_HOOK_TEMPLATES[server], dest, vpn_hook_root='',
                                vpn_hook_spool_dir=str(spool_dir), vpn_hook_identity=identity)
