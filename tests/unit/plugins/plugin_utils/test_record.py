# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _record
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, X, present


@pytest.mark.parametrize('mutate', [
    lambda r: r.update(schema=2),
    lambda r: r.update(mac=B),
    lambda r: r.update(ip='10.0.0.999'),
    lambda r: r.update(last_scanned='last tuesday'),
    lambda r: r.update(ip_history='none'),
    lambda r: r.update(ip_history=[{'ip': X}]),
    lambda r: r.update(pending={'scan_ref': 'scan/1'}),
    lambda r: r.update(held_since=None),
])
def test_validate_record_rejects_broken_records(mutate):
    record = present(A, X)
    mutate(record)
    with pytest.raises(_record.InvalidRecord):
        _record.validate_record(record, A)


def test_validate_record_rejects_non_mapping():
    with pytest.raises(_record.InvalidRecord):
        _record.validate_record(['x'], A)
