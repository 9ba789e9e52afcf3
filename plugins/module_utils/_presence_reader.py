# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the reader modules (lease_events, presence_events) share: options, one read, its errors.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (the modules run on the servers whose hooks write the spool).
"""

from __future__ import annotations

import time

from ansible_collections.roamscan.qualys.plugins.module_utils._source_tables import TABLE_ERRORS
from ansible_collections.roamscan.qualys.plugins.module_utils._spool import Spool, SpoolError
from ansible_collections.roamscan.qualys.plugins.module_utils._time import iso_time

DEFAULT_SPOOL_DIR = '/var/spool/roamscan'
SPOOL_ARGUMENT_SPEC = dict(
    spool_dir=dict(type='path', default=DEFAULT_SPOOL_DIR),
    ack=dict(type='str'),
)


class PresenceReadError(Exception):
    """The spool or the source's table could not be read or acknowledged. ``result``: the module
    result of an empty read, for fail_json."""

    def __init__(self, message, result):
        super().__init__(message)
        self.result = result


def read_presence(spool_dir, ack, check_mode, read_records, read_table, shape, spool=None):
    """One reader module run: acknowledge ``ack``, read the spool (if ``read_records``) and the
    live table (``read_table(now)``, or None for none).

    Returns the module result: changed, cursor, skipped_lines, acked_segments, now and the keys
    ``shape(records, table, skipped)`` gives for the SpoolRecords and table read (``shape`` may
    count more lines in the {reason: count} ``skipped``). Raises PresenceReadError.
    """
    now = time.time()
    result = dict(changed=False, cursor=None, acked_segments=0, now=iso_time(now))
    records, table, skipped = [], [], {}
    spool = spool or Spool(spool_dir)
    try:
        if read_records or ack:
            batch, removed, changed = spool.collect(ack=ack, check_mode=check_mode, read_records=read_records)
            result.update(acked_segments=removed, changed=changed)
            if batch is not None:
                records, skipped = batch.records, dict(batch.skipped)
                result['cursor'] = batch.cursor
        if read_table is not None:
            table = read_table(now)
    except (SpoolError, OSError) + TABLE_ERRORS as exc:
        message = 'spool %s: %s' % (spool_dir, exc) if isinstance(exc, OSError) else str(exc)
        if isinstance(exc, PermissionError) or isinstance(exc.__context__, PermissionError):
            message += ('. The spool and lease files belong to root or the DHCP server\'s user: run the tasks on the DHCP '
                        'servers with become (e.g. ansible_become: true for the dhcp_servers group)')
        # what an ack did stays reported; no cursor for records that are not returned
        raise PresenceReadError(message, _finished(dict(result, cursor=None), [], [], {}, shape)) from None
    return _finished(result, records, table, skipped, shape)


def _finished(result, records, table, skipped, shape):
    result.update(shape(records, table, skipped))
    result['skipped_lines'] = {'count': sum(skipped.values()), 'reasons': dict(sorted(skipped.items()))}
    return result
