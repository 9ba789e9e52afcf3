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

An entry is ``[version, digest, error, others]``: the backend's version of the cache entry (file: ctime, inode,
size; Redis: write score), the digest of its record (None: no record), why it could not be read (None: readable)
and whether the host has facts besides the record. The index also keeps a copy of each working-set record (as
JSON text), so that a stage reads its working set from the index alone. The records stay the truth: an entry and
its copy are trusted only while the cache entry still has that version.

A third entry, the *report snapshot* (``roamscan-report-snapshot``), serves the readers of every record (the
coverage report, the inventory plugin): a copy of each readable record with the version of its entry, trusted per
entry while the version matches, so that such a reader reads only the records written since it last ran.

All three are stored as one JSON text inside the cache value, which ansible-core 2.19+'s tag-preserving decoder
passes through as a plain string.
"""

from __future__ import annotations

import json
import uuid

INDEX_KEY = 'roamscan-store-index'
CATALOG_KEY = 'roamscan-store-catalog'
# every readable record with its entry's version, for the readers of every record (report, inventory)
SNAPSHOT_KEY = 'roamscan-report-snapshot'
FORMAT = 1
# overlay entries outside the working set before the catalog is rewritten
COMPACT_AFTER = 2000
# what a digest keeps of a record: enough for the working set, holders and _summary.counts (links: which device)
DIGEST_FIELDS = ('ip', 'lease_state', 'lease_expires', 'last_scanned', 'first_seen', 'pending', 'links')


class IndexUnusable(ValueError):
    """The stored index cannot be used (missing, corrupt, another format, torn by a crash)."""


def digest(record):
    values = [record.get(field) for field in DIGEST_FIELDS]
    values[5] = 1 if record.get('pending') else 0
    values[6] = sorted(link['identity'] for link in record.get('links') or []) or None
    return values


def digest_as_record(values):
    """The digest as a partial record that _record.is_present / is_overdue, _devices.Devices and _summary.counts accept."""
    record = dict(zip(DIGEST_FIELDS, values))
    record['pending'] = {'digest': True} if record['pending'] else None
    record['links'] = [{'identity': identity} for identity in record['links'] or ()]
    return record


def in_working_set(entry):
    """Open holding, pending scan or intent, or unreadable (reported every cycle)."""
    values = entry[1]
    return entry[2] is not None or (values is not None and (values[1] == 'active' or bool(values[5])))


def _entries(value, where):
    if not isinstance(value, dict):
        raise IndexUnusable('%s entries are not a mapping' % where)
    for key, entry in value.items():
        if not (isinstance(key, str) and isinstance(entry, list) and len(entry) == 4 and isinstance(entry[0], list)
                and (entry[1] is None or (isinstance(entry[1], list) and len(entry[1]) == len(DIGEST_FIELDS)))):
            raise IndexUnusable('malformed %s entry %r' % (where, key))
    return value


def _packed(data):
    return {'format': FORMAT, 'data': json.dumps(data, separators=(',', ':'))}


def _unpacked(value, what):
    if not isinstance(value, dict) or value.get('format') != FORMAT or not isinstance(value.get('data'), str):
        raise IndexUnusable('not a %s of format %d' % (what, FORMAT))
    try:
        data = json.loads(value['data'])
    except ValueError as exc:
        raise IndexUnusable('%s unreadable: %s' % (what, exc)) from None
    if not isinstance(data, dict):
        raise IndexUnusable('%s is not a mapping' % what)
    return data


class Index:
    """The overlay, the copies of the working set, and what the overlay needs to know of the catalog."""

    def __init__(self, overlay, copies, catalog_id, catalog_seal, catalog_only, recent, place=None):
        self.overlay = overlay
        self.copies = copies
        self.catalog_id = catalog_id
        self.catalog_seal = catalog_seal
        self.catalog_only = catalog_only
        self.recent = recent
        # where it was written (the backend's place: a file store's directory identity); a seal found elsewhere, on
        # a copy that kept the times, proves nothing
        self.place = place

    @classmethod
    def parse(cls, value):
        data = _unpacked(value, 'index')
        try:
            copies = data['copies']
            if not isinstance(copies, dict) or not all(isinstance(text, str) for text in copies.values()):
                raise IndexUnusable('malformed copies')
            return cls(_entries(data['overlay'], 'index'), copies, str(data['catalog_id']), int(data['catalog_seal']),
                       int(data['catalog_only']), dict(data['recent']), data.get('place'))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, IndexUnusable):
                raise
            raise IndexUnusable('malformed index: %s' % exc) from None

    def dump(self):
        return _packed({'catalog_id': self.catalog_id, 'catalog_seal': self.catalog_seal, 'catalog_only': self.catalog_only,
                        'recent': self.recent, 'overlay': self.overlay, 'copies': self.copies, 'place': self.place})

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

    def update(self, key, entry, copy):
        """Take the entry (and the JSON text of its record while it is in the working set) of a key read or written."""
        self.overlay[key] = entry
        if copy is not None and in_working_set(entry):
            self.copies[key] = copy
        else:
            self.copies.pop(key, None)

    def working_keys(self):
        return [key for key, entry in self.overlay.items() if in_working_set(entry)]

    def outside_working_set(self):
        return sum(1 for entry in self.overlay.values() if not in_working_set(entry))


def parse_catalog(value, catalog_id):
    data = _unpacked(value, 'catalog')
    if data.get('catalog_id') != catalog_id:
        raise IndexUnusable('catalog is not the one the index was written with')
    return _entries(data.get('entries'), 'catalog')


def compact(entries, copies, skew_ns):
    """``(index, catalog value)`` for all entries ``{key: entry}``: the catalog holds them all, the overlay the working set."""
    catalog_id = uuid.uuid4().hex
    seal = max((entry[0][0] for entry in entries.values() if entry[0]), default=0)
    overlay = {key: entry for key, entry in entries.items() if in_working_set(entry)}
    recent = {key: entry[0] for key, entry in entries.items() if entry[0] and entry[0][0] > seal - skew_ns and key not in overlay}
    index = Index(overlay, {key: copies[key] for key in overlay if key in copies}, catalog_id, seal, len(entries) - len(overlay), recent)
    return index, _packed({'catalog_id': catalog_id, 'entries': entries})


def snapshot_value(entries):
    """The report snapshot of ``{key: [version, record, others]}``."""
    return _packed({'entries': entries})


def parse_snapshot(value):
    """``{key: [version, record, others]}`` of a stored report snapshot ({} when there is none); IndexUnusable when it
    is no snapshot."""
    if value is None:
        return {}
    entries = _unpacked(value, 'report snapshot').get('entries')
    if not isinstance(entries, dict) or not all(
            isinstance(entry, list) and len(entry) == 3 and isinstance(entry[0], list) and isinstance(entry[1], dict)
            for entry in entries.values()):
        raise IndexUnusable('malformed report snapshot')
    return entries
