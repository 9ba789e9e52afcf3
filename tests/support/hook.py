# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Render the dhcp_hook role's hook template outside Ansible (tests and bench/)."""
from __future__ import annotations

import os
import shlex
from pathlib import Path

import jinja2

COLLECTION_ROOT = Path(__file__).resolve().parents[2]
HOOK_TEMPLATE = COLLECTION_ROOT / 'roles' / 'dhcp_hook' / 'templates' / 'roamscan-lease-hook.j2'


def render_hook(dest, spool_dir):
    """Write the hook to ``dest`` (mode 0755) appending to ``<spool_dir>/current``; returns dest."""
    env = jinja2.Environment(keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
    env.filters['quote'] = shlex.quote
    text = env.from_string(HOOK_TEMPLATE.read_text()).render(
        dhcp_hook_root='', dhcp_hook_spool_dir=str(spool_dir), ansible_managed='rendered by tests')
    dest = Path(dest)
    dest.write_text(text)
    os.chmod(dest, 0o755)
    return dest
