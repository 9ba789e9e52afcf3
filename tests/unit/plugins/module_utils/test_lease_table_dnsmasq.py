# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""dnsmasq.leases parser."""
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_table_dnsmasq import parse_dnsmasq_leases
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.lease_samples import BOUND_AT, DNSMASQ_LEASES, by_ip


def test_dnsmasq_rows_infinite_and_ipv6_lines():
    table = by_ip(parse_dnsmasq_leases(DNSMASQ_LEASES, BOUND_AT))
    assert table['10.77.0.142'] == {'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.142', 'hostname': None,
                                    'expires': '2026-11-28T06:43:37Z', 'state': 'active'}
    assert table['10.77.0.105']['state'] == 'expired' and table['10.77.0.105']['hostname'] == 'slow-b'
    assert table['10.77.0.106'] == {'mac': '02:77:00:00:0c:03', 'ip': '10.77.0.106', 'hostname': 'printer',
                                    'expires': None, 'state': 'active'}
    assert len(table) == 3
