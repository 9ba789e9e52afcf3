# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kea memfile lease table parser."""
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_table_kea import parse_kea_leases
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.lease_samples import BOUND_AT, KEA_CSV, KEA_RELEASE, by_ip


def test_kea_last_row_wins_and_states():
    table = by_ip(parse_kea_leases(KEA_CSV, BOUND_AT))
    assert table['10.77.0.100'] == {'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': 'xtouchtmppwnedid',
                                    'expires': '2026-11-28T06:38:59Z', 'state': 'active'}
    assert table['10.77.0.50'] == {'mac': None, 'ip': '10.77.0.50', 'hostname': None,
                                   'expires': '2026-11-29T06:38:38Z', 'state': 'declined'}
    assert table['10.77.0.101']['hostname'] is None  # escaped comma: not a safe name
    assert list(table) == ['10.77.0.50', '10.77.0.100', '10.77.0.101']


def test_kea_deleted_row_and_expiry():
    # a release and a reclaimed expiry both write valid_lifetime 0 (seen with Kea 2.2 in tests/e2e)
    assert by_ip(parse_kea_leases(KEA_CSV + KEA_RELEASE, BOUND_AT))['10.77.0.100']['state'] == 'free'
    assert by_ip(parse_kea_leases(KEA_CSV, 1795847940))['10.77.0.101']['state'] == 'expired'
    reclaimed = '10.77.0.101,02:77:00:00:0b:02,,30,1795847939,1,0,0,,2,\n'
    assert by_ip(parse_kea_leases(KEA_CSV + reclaimed, BOUND_AT))['10.77.0.101']['state'] == 'expired'
