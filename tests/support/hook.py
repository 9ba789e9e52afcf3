# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the dhcp_hook role's per-server hook templates outside Ansible (tests and bench/).

The environment matches what the template module uses (trim_blocks, the role's templates
directory for the shared parts); test_dhcp_hook_role.py checks that the role installs the same text.
"""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import jinja2

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = COLLECTION_ROOT / 'roles' / 'dhcp_hook' / 'templates'
SERVERS = ('kea', 'dhcpd', 'dnsmasq')


def hook_text(server, spool_dir, root='', ansible_managed='rendered by tests'):
    """The hook the role installs for ``server`` appending to ``<root><spool_dir>/current``."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), trim_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters['quote'] = shlex.quote
    return env.get_template('roamscan-lease-hook-%s.j2' % server).render(
        dhcp_hook_root=root, dhcp_hook_spool_dir=str(spool_dir), ansible_managed=ansible_managed)


def render_hook(dest, spool_dir, server):
    """Write ``server``'s hook to ``dest`` (mode 0755) appending to ``<spool_dir>/current``; returns dest."""
    dest = Path(dest)
    dest.write_text(hook_text(server, spool_dir))
    os.chmod(dest, 0o755)
    return dest
