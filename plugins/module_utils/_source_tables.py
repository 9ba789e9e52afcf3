# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The live table of each presence source, as observations: the registry presence_events reads.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (it runs on the source's server). To add a source: write its table
parser in its own file, add a reader (path, now, host, run_command) -> [observation] to
TABLE_READERS, its default path to DEFAULT_TABLE_PATHS and its read error to TABLE_ERRORS.
``run_command(argv)`` -> (rc, stdout, stderr) is the module's AnsibleModule.run_command, for
tables that only a command prints (occtl, wg).
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._lease_tables import DEFAULT_LEASE_FILES, LeaseFileError, read_lease_table
from ansible_collections.roamscan.qualys.plugins.module_utils._observation import from_lease_row
from ansible_collections.roamscan.qualys.plugins.module_utils._session_tables import (
    DEFAULT_SESSION_TABLES,
    SESSION_TABLE_ERRORS,
    SESSION_TABLE_READERS,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time


def _dhcp_reader(server):
    def read(path, now, host, run_command=None):  # pylint: disable=unused-argument
        rows = (from_lease_row(server, row, host, iso_time(now)) for row in read_lease_table(server, path, now))
        return [row for row in rows if row is not None]
    return read


def _no_table(path, now, host, run_command=None):  # pylint: disable=unused-argument
    """A log-only source (the presence receiver): nothing to re-read, its spool is all there is."""
    return []


TABLE_READERS = dict({server: _dhcp_reader(server) for server in DEFAULT_LEASE_FILES}, receiver=_no_table, **SESSION_TABLE_READERS)
DEFAULT_TABLE_PATHS = dict(DEFAULT_LEASE_FILES, receiver=None, **DEFAULT_SESSION_TABLES)
TABLE_ERRORS = (LeaseFileError,) + SESSION_TABLE_ERRORS


def read_source_table(source, path, now, host, run_command=None):
    """The live table of ``source`` (at ``path``, default DEFAULT_TABLE_PATHS) as observations."""
    return TABLE_READERS[source](path or DEFAULT_TABLE_PATHS[source], now, host, run_command)
