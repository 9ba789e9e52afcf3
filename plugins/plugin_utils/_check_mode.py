# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cycle in check mode: each stage sees what the stages before it would have written, and nothing is written.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Every stage opens the store read-only and returns, under ``would_store``, the records it and the stages before
it would have stored; the next stage reads them over the stored ones (:class:`WouldBeStore`). The summary counts
with them and says in sentences what the cycle would have done (:func:`would_do`).
"""

from __future__ import annotations

import copy

from ansible_collections.roamscan.qualys.plugins.plugin_utils._registered import task_results
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import LaptopStore, _in_working_set
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_index import digest, digest_as_record

WOULD_STORE = 'would_store'
# the stages' registered results, the latest first: the first one with WOULD_STORE carries the earlier ones' records
CARRIED_BY = ('roamscan_recorded', 'roamscan_intent', 'roamscan_plan', 'roamscan_confirmed', 'roamscan_remembered')


def carried_records(task_vars):
    """``{mac: record}`` the earlier stages of this check-mode cycle would have stored."""
    for name in CARRIED_BY:
        result = task_vars.get(name)
        if isinstance(result, dict) and isinstance(result.get(WOULD_STORE), dict):
            return copy.deepcopy(result[WOULD_STORE])
    return {}


class WouldBeStore:
    """A read-only store as it would be had ``records`` been written: reads see them over the stored records."""

    def __init__(self, store, records):
        self._store = store
        self._records = records

    def __getattr__(self, name):
        return getattr(self._store, name)

    def get(self, macs):
        macs = list(macs)
        found = self._store.get([mac for mac in macs if mac not in self._records])
        found.update({mac: copy.deepcopy(self._records[mac]) for mac in macs if mac in self._records})
        return found

    def working_set(self):
        found = {mac: record for mac, record in self._store.working_set().items() if mac not in self._records}
        found.update({mac: copy.deepcopy(record) for mac, record in self._records.items() if _in_working_set(record)})
        return found

    # the store's own questions of the working set and the digests, asked of this one's
    holders = LaptopStore.holders
    holder_keys = LaptopStore.holder_keys
    linking = LaptopStore.linking

    def all(self, **options):
        return dict(self._store.all(**options), **copy.deepcopy(self._records))

    def digests(self):
        found = self._store.digests()
        found.update({mac: digest_as_record(digest(record)) for mac, record in self._records.items()})
        return found

    def carried(self, records, changed):
        """What the next stage must see: the earlier stages' records and those of ``changed`` in ``records``."""
        return dict(self._records, **{mac: records[mac] for mac in changed if mac in records})


def _ok(result):
    return isinstance(result, dict) and not (result.get('failed') or result.get('skipped'))


def _laptops(items):
    return ', '.join('%s (%s)' % (item['mac'], item['ip']) for item in items)


def would_do(summary, results):
    """Sentences saying what this check-mode cycle would have done; nothing of it was done."""
    remembered, verified, launched = results.get('remember'), results.get('verify'), results.get('launch')
    sentences = []
    if _ok(remembered):
        sentences.append('would update %d laptop record(s) from what the DHCP servers reported' % remembered.get('updated', 0))
    credited = summary['credited']
    if credited:
        sentences.append('would credit %d laptop(s) with a finished scan: %s' % (len(credited), ', '.join(credited)))
    # one launch per scanner route group: with more than one, each scan is named by its group's title
    groups = [result for result in task_results(launched) if _ok(result)]
    scans = [(scan, len(groups) > 1) for result in groups for scan in result.get('scans') or []]
    if scans:
        targets = [','.join(scan['targets']) + (' (%s)' % scan['title'] if named else '') for scan, named in scans]
        sentences.append('would launch one scan of %s' % targets[0] if len(targets) == 1
                         else 'would launch %d scans: of %s' % (len(targets), '; of '.join(targets)))
    elif summary['held']:
        sentences.append('would launch no scan: %s' % summary['held'])
    elif _ok(verified) and verified['launch']['dropped']:
        sentences.append('would launch no scan: every target was dropped at verify (%s)' % _laptops(verified['launch']['dropped']))
    else:
        sentences.append('would launch no scan: no present laptop is due')
    if summary['held_back_count']:
        sentences.append('would hold back %d laptop(s) for a later cycle' % summary['held_back_count'])
    sentences.append('check mode: nothing was stored or acknowledged, no scan was launched')
    return sentences
