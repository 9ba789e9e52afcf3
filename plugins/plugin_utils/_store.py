# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptop store API over the fact cache (a stand-in over laptop_store until the indexed store lands).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_text

from ansible_collections.roamscan.qualys.plugins.plugin_utils import laptop_store


class StoreError(Exception):
    """The laptop store cannot be used; the message names the store and the reason."""


class UnsafeFactCache(StoreError):
    """The store would forget scan history."""


class StoreWriteError(StoreError):
    """A write that failed."""


def open_store(settings=None, require_durable=True):
    try:
        cache = laptop_store.open_fact_cache(require_durable=require_durable, settings=settings)
    except laptop_store.UnsafeFactCache as exc:
        raise UnsafeFactCache(to_text(exc)) from None
    except AnsibleError as exc:
        raise StoreError('Cannot open the laptop store: %s' % to_text(exc)) from None
    return LaptopStore(cache, laptop_store.cache_name(settings))


class LaptopStore:
    def __init__(self, cache, name):
        self.name = name
        self.corrupt = []
        self._cache = cache
        self._records = self._facts = None

    def _load(self):
        if self._records is None:
            try:
                self._records, self._facts, self.corrupt = laptop_store.load_records(self._cache)
            except AnsibleError as exc:
                raise StoreError('Cannot read laptop records from the fact cache: %s' % to_text(exc)) from None
        return self._records

    def get(self, macs):
        records = self._load()
        return {mac: records[mac] for mac in macs if mac in records}

    def working_set(self):
        return {mac: record for mac, record in self._load().items()
                if record.get('lease_state') == 'active' or record.get('pending')}

    def holders(self, ips):
        wanted = set(ips)
        return {record['ip']: mac for mac, record in self._load().items()
                if record.get('lease_state') == 'active' and record.get('ip') in wanted}

    def all(self):
        return dict(self._load())

    def save(self, records, macs):
        self._load()
        try:
            return laptop_store.save_records(self._cache, records, self._facts, macs)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise StoreWriteError('Cannot write laptop records to %s: %s' % (self.name, to_text(exc))) from None
