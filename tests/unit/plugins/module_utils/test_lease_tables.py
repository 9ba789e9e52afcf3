# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease-table dispatcher: files per server, errors."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_tables import LeaseFileError, read_lease_table
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.lease_samples import BOUND_AT, DNSMASQ_LEASES, KEA_CSV, by_ip


def test_kea_lfc_files_are_read_before_the_live_file(tmp_path):
    live = tmp_path / 'kea-leases4.csv'
    header = KEA_CSV.splitlines()[0] + '\n'
    (tmp_path / 'kea-leases4.csv.2').write_text(header + '10.77.0.120,02:77:00:00:0d:01,,30,1795847999,1,0,0,old,0,\n')
    live.write_text(header + '10.77.0.121,02:77:00:00:0d:02,,30,1795847999,1,0,0,new,0,\n')
    table = by_ip(read_lease_table('kea', str(live), BOUND_AT))
    assert set(table) == {'10.77.0.120', '10.77.0.121'}


def test_missing_lease_file_and_unknown_server_are_clear_errors(tmp_path):
    with pytest.raises(LeaseFileError, match='does not exist'):
        read_lease_table('dnsmasq', str(tmp_path / 'none'))
    with pytest.raises(LeaseFileError, match='unknown DHCP server'):
        read_lease_table('infoblox', str(tmp_path / 'none'))


def test_unreadable_bytes_do_not_break_the_table(tmp_path):
    path = tmp_path / 'dnsmasq.leases'
    path.write_bytes(b'\xff\xfe garbage\n' + DNSMASQ_LEASES.encode())
    assert len(read_lease_table('dnsmasq', str(path), BOUND_AT)) == 3
