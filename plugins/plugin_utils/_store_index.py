# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptop store's index: what a cycle needs, findable without reading every record.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Two entries in the same cache, next to the records (their keys are no laptop's):

- the *catalog* (``roamscan-store-catalog``): every record's version and digest, rewritten only when the
  index is compacted or rebuilt;
- the *index* (``roamscan-store-index``): the entries changed since (the *overlay*, always including every
  record in the working set: open holdings, pending scans and intents, corrupt entries), the catalog's id and
  seal, and how many catalog entries the overlay does not shadow. It is small (about the number of present
  laptops) and rewritten by every save.

An entry is ``[version, digest, error]``: the backend's version of the cache entry (file: ctime, inode, size;
Redis: write score), the digest of its record (None: no record) and why it could not be read (None: readable).
The records stay the truth: an entry is trusted only while the cache entry still has that version.
"""

from __future__ import annotations

import uuid

INDEX_KEY = 'roamscan-store-index'
CATALOG_KEY = 'roamscan-store-catalog'
FORMAT = 1
# overlay entries outside the working set before the catalog is rewritten
COMPACT_AFTER = 2000
# what a digest keeps of a record: enough for the working set, holders and _summary.counts
DIGEST_FIELDS = ('ip', 'lease_state', 'lease_expires', 'last_scanned', 'first_seen', 'pending')


class IndexUnusable(ValueError):
    """The stored index cannot be used (missing, corrupt, another format, torn by a crash)."""


def digest(record):
    values = [record.get(field) for field in DIGEST_FIELDS]
    values[-1] = 1 if record.get('pending') else 0
    return values


def digest_as_record(values):
    """The digest as a partial record that _record.is_present / is_overdue and _summary.counts accept."""
    record = dict(zip(DIGEST_FIELDS, values))
    record['pending'] = {'digest': True} if record['pending'] else None
    return record


def in_working_set(entry):
    """Open holding, pending scan or intent, or unreadable (reported every cycle)."""
    values = entry[1]
    return entry[2] is not None or (values is not None and (values[1] == 'active' or bool(values[5])))


def _entries(value, where):
    if not isinstance(value, dict):
        raise IndexUnusable('%s entries are not a mapping' % where)
    for key, entry in value.items():
        if not (isinstance(key, str) and isinstance(entry, list) and len(entry) == 3
                and isinstance(entry[0], list) and (entry[1] is None or (isinstance(entry[1], list) and len(entry[1]) == len(DIGEST_FIELDS)))):
            raise IndexUnusable('malformed %s entry %r' % (where, key))
    return value


class Index:
    """The overlay and what it needs to know of the catalog (which it reads only when it must)."""

    def __init__(self, overlay, catalog_id, catalog_seal, catalog_only, recent):
        self.overlay = overlay
        self.catalog_id = catalog_id
        self.catalog_seal = catalog_seal
        self.catalog_only = catalog_only
        self.recent = recent

    @classmethod
    def parse(cls, value):
        if not isinstance(value, dict) or value.get('format') != FORMAT:
            raise IndexUnusable('not an index of format %d' % FORMAT)
        try:
            return cls(_entries(value['overlay'], 'index'), str(value['catalog_id']), int(value['catalog_seal']),
                       int(value['catalog_only']), dict(value['recent']))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, IndexUnusable):
                raise
            raise IndexUnusable('malformed index: %s' % exc) from None

    def dump(self):
        return {'format': FORMAT, 'catalog_id': self.catalog_id, 'catalog_seal': self.catalog_seal,
                'catalog_only': self.catalog_only, 'recent': self.recent, 'overlay': self.overlay}

    def stale_keys(self, versions, skew_ns):
        """Keys whose version differs from what the index knows, and whether the catalog is needed to tell.

        A key outside the overlay whose version is older than the catalog's seal (less clock skew) is taken to be
        as catalogued; if the number of such keys is not the number catalogued, something was removed or added.
        """
        changed, unknown, catalogued = [], [], 0
        horizon = self.catalog_seal - skew_ns
        for key, version in versions.items():
            entry = self.overlay.get(key)
            if entry is not None:
                if entry[0] != version:
                    changed.append(key)
            elif version is not None and version[0] <= horizon:
                catalogued += 1
            elif self.recent.get(key) == version:
                catalogued += 1
            else:
                unknown.append(key)
        removed = [key for key in self.overlay if key not in versions]
        needs_catalog = bool(unknown or removed or catalogued != self.catalog_only)
        return changed + unknown, needs_catalog

    def working_keys(self):
        return [key for key, entry in self.overlay.items() if in_working_set(entry)]

    def outside_working_set(self):
        return sum(1 for entry in self.overlay.values() if not in_working_set(entry))


def parse_catalog(value, catalog_id):
    if not isinstance(value, dict) or value.get('format') != FORMAT or value.get('catalog_id') != catalog_id:
        raise IndexUnusable('catalog missing or not the one the index was written with')
    return _entries(value.get('entries'), 'catalog')


def compact(entries, skew_ns):
    """``(index, catalog)`` for all entries ``{key: entry}``: the catalog holds them all, the overlay the working set."""
    catalog_id = uuid.uuid4().hex
    seal = max((entry[0][0] for entry in entries.values() if entry[0]), default=0)
    overlay = {key: entry for key, entry in entries.items() if in_working_set(entry)}
    recent = {key: entry[0] for key, entry in entries.items() if entry[0] and entry[0][0] > seal - skew_ns and key not in overlay}
    index = Index(overlay, catalog_id, seal, len(entries) - len(overlay), recent)
    return index, {'format': FORMAT, 'catalog_id': catalog_id, 'entries': entries}
