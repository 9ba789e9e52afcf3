# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report's exports (CSV and JSON of the devices and of the history) and writing the files.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

The schema is documented in docs/coverage_report.md; the numbers are the page's (_coverage.report()).
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile

from ansible_collections.roamscan.qualys.plugins.plugin_utils._coverage import ROW_FIELDS

EXPORT_SCHEMA = 1
HISTORY_FIELDS = ('day', 'cycles', 'last_at', 'known', 'present', 'overdue', 'pending', 'covered_share', 'launched_scans',
                  'launched_targets', 'credited', 'not_credited', 'faults', 'api_calls_total', 'api_calls', 'dropped')
# spreadsheet programs run cells that start with these as formulas; host names are attacker-controlled
FORMULA_START = ('=', '+', '-', '@', '\t', '\r')
# json.dumps(value, sort_keys=True), without building an encoder per cell
_SORTED_JSON = json.JSONEncoder(sort_keys=True).encode


class ReportWriteError(OSError):
    """A report file could not be written; the message names it."""


def _cell(value):
    if isinstance(value, (dict, list)):
        return _SORTED_JSON(value)
    if isinstance(value, bool):
        return 'true' if value else 'false'
    text = '' if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_START) and not _number(text) else text


# the cell of a value of exactly these types (numbers print as numbers: no formula to defuse); others go to _cell
_CELL_OF_TYPE = {type(None): lambda value: '', bool: lambda value: 'true' if value else 'false', int: str, float: str,
                 list: _SORTED_JSON, dict: _SORTED_JSON}


def _number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv(rows, fields):
    out = io.StringIO()
    writer = csv.writer(out, lineterminator='\n')
    writer.writerow(fields)
    # a text no spreadsheet runs, the most common cell, without a call; the others by their type
    writer.writerows([value if value.__class__ is str and not value.startswith(FORMULA_START)
                      else _CELL_OF_TYPE.get(value.__class__, _cell)(value) for value in map(row.get, fields)] for row in rows)
    return out.getvalue()


def _summary(model):
    return {key: model[key] for key in ('now', 'rescan_days', 'filters', 'coverage', 'counts', 'covered_share',
                                        'overdue_reasons', 'ages', 'breakdown', 'scans', 'dropped', 'api')}


def exports(model):
    """``{suffix: text}`` of the four exports."""
    devices = model['devices']   # rows hold ROW_FIELDS, in that order (_coverage.device_rows)
    history = [{field: entry.get(field) for field in HISTORY_FIELDS} for entry in model['history']]
    return {
        'devices.csv': _csv(devices, ROW_FIELDS),
        'devices.json': json.dumps({'schema': EXPORT_SCHEMA, 'summary': _summary(model), 'devices': devices}, separators=(',', ':')) + '\n',
        'history.csv': _csv(history, HISTORY_FIELDS),
        'history.json': json.dumps({'schema': EXPORT_SCHEMA, 'history': history}, separators=(',', ':')) + '\n',
    }


def export_paths(page_path):
    """``{suffix: path}`` next to the page: ``coverage.html`` -> ``coverage-devices.csv``, ..."""
    stem = page_path[:-5] if page_path.endswith('.html') else page_path
    return {suffix: '%s-%s' % (stem, suffix) for suffix in ('devices.csv', 'devices.json', 'history.csv', 'history.json')}


def write_files(texts):
    """Write ``{path: text}``, each to a temporary file in its folder renamed over it (readers never see half a file)."""
    for path, text in texts.items():
        folder = os.path.dirname(os.path.abspath(path))
        try:
            handle, temporary = tempfile.mkstemp(dir=folder, prefix='.roamscan-report-')
            try:
                with os.fdopen(handle, 'w', encoding='utf-8') as stream:
                    stream.write(text)
                os.chmod(temporary, 0o644)
                os.replace(temporary, path)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as exc:
            raise ReportWriteError('Cannot write the report file %s: %s' % (path, exc.strerror or exc)) from None
