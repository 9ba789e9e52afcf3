# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One collection module run on one inventory host of a CycleLab with real ansible-playbook, and its result."""
from __future__ import annotations

import json
import os


def run_module(lab, host, module, args, become=False):
    """The registered result of ``module`` (``roamscan.qualys.<module>``) with ``args`` on ``host``."""
    token = os.urandom(4).hex()
    out = lab.root / 'tmp' / ('result-%s.json' % token)
    playbook = lab.root / 'tmp' / ('run-%s.yml' % token)
    playbook.write_text(json.dumps([{'name': 'Run %s' % module, 'hosts': host, 'gather_facts': False, 'tasks': [
        {'name': 'The module', 'roamscan.qualys.%s' % module: args, 'register': 'result', 'ignore_errors': True,
         'become': become},
        {'name': 'Keep its result', 'ansible.builtin.copy': {'content': '{{ result | to_json }}', 'dest': str(out)},
         'delegate_to': 'localhost'}]}]))
    proc = lab.run(playbook=str(playbook))
    if not out.exists():
        raise AssertionError('%s did not run:\n%s' % (module, (proc.stdout + proc.stderr)[-4000:]))
    return json.loads(out.read_text())
