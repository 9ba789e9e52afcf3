# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The working tree loads as roamscan.qualys through the fixtures every functional test uses."""
from __future__ import annotations

import json


def test_collection_is_listed_from_working_tree(run_ansible, collections_dir):
    proc = run_ansible('ansible-galaxy', 'collection', 'list', '--format', 'json', check=True)
    listed = json.loads(proc.stdout)
    found = {name for path_entries in listed.values() for name in path_entries}
    assert 'roamscan.qualys' in found
