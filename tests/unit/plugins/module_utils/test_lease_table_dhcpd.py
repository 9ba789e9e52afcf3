# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""ISC dhcpd.leases parser."""
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_table_dhcpd import parse_dhcpd_leases
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.lease_samples import DHCPD_LEASES, by_ip


def test_dhcpd_last_block_wins_hostile_names_dropped_and_cut_block_ignored():
    table = by_ip(parse_dhcpd_leases(DHCPD_LEASES, 1795847990))
    assert table['10.77.0.100'] == {'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': None,
                                    'expires': '2026-11-28T06:40:08Z', 'state': 'active'}
    assert table['10.77.0.101']['state'] == 'expired' and table['10.77.0.101']['hostname'] == 'pc-b'
    assert table['10.77.0.102']['state'] == 'free'
    assert table['10.77.0.103'] == {'mac': None, 'ip': '10.77.0.103', 'hostname': None,
                                    'expires': '2026-11-28T06:56:40Z', 'state': 'declined'}
    assert '10.77.0.104' not in table
