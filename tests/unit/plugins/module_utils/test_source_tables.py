# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The per-source table registry (_source_tables): each source's live table as observations."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_tables import DEFAULT_LEASE_FILES, LeaseFileError
from ansible_collections.roamscan.qualys.plugins.module_utils._source_tables import (
    DEFAULT_TABLE_PATHS,
    TABLE_ERRORS,
    TABLE_READERS,
    read_source_table,
)
from ansible_collections.roamscan.qualys.tests.unit.plugins.module_utils.lease_samples import BOUND_AT, KEA_CSV


def test_every_dhcp_server_has_a_reader_and_its_default_path():
    assert set(TABLE_READERS) == set(DEFAULT_TABLE_PATHS) >= set(DEFAULT_LEASE_FILES)
    assert DEFAULT_TABLE_PATHS['kea'] == '/var/lib/kea/kea-leases4.csv'


def test_kea_table_as_observations_without_the_declined_address(tmp_path):
    path = tmp_path / 'kea-leases4.csv'
    path.write_text(KEA_CSV)
    table = read_source_table('kea', str(path), BOUND_AT, 'dhcp1')
    assert [(o['identity']['value'], o['ip'], o['event'], o['why']) for o in table] == [
        ('02:77:00:00:0a:01', '10.77.0.100', 'seen', 'active'), ('02:77:00:00:0b:02', '10.77.0.101', 'seen', 'active')]
    assert {(o['source']['kind'], o['source']['host'], o['time']) for o in table} == {('kea', 'dhcp1', '2026-11-28T06:38:40Z')}


def test_a_missing_table_raises_a_registered_error(tmp_path):
    with pytest.raises(TABLE_ERRORS) as info:
        read_source_table('dnsmasq', str(tmp_path / 'none'), BOUND_AT, 'dhcp1')
    assert isinstance(info.value, LeaseFileError)
