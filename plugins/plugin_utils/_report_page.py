# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The coverage report's HTML page: self-contained, charts as inline SVG, no script.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Host names come from DHCP clients: every value goes through ``_e`` (html.escape), and the page's
Content-Security-Policy forbids scripts and any request, so the page works offline and from an
AWX artifact and a name that slipped through could still run nothing.
"""

from __future__ import annotations

from html import escape

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"
# the per-device tables show this many rows; the exports hold every device
TABLE_ROWS = 500
STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1180px;padding:0 1em;color:#1d2733}
h1{font-size:1.5em;margin:0 0 .2em}h2{font-size:1.15em;margin:1.6em 0 .4em;border-bottom:1px solid #d5dbe3}
.kpis{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}.kpi{background:#f1f4f8;border-radius:6px;padding:.5em .9em;min-width:8em}
.kpi b{display:block;font-size:1.5em}.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:1em}
table{border-collapse:collapse;width:100%;font-size:13px}th,td{border-bottom:1px solid #e2e6ec;padding:.25em .5em;
text-align:left;overflow-wrap:anywhere;vertical-align:top}th{background:#f1f4f8}td.n,th.n{text-align:right}td.k{white-space:nowrap}
svg{width:100%;height:auto;display:block}.axis{stroke:#8a96a6;stroke-width:1}.grid-line{stroke:#e2e6ec}
.line{fill:none;stroke:#1f6fd1;stroke-width:2}.point{fill:#1f6fd1}.bar{fill:#1f6fd1}.bar.warn{fill:#d9822b}.limit{stroke:#c0392b;stroke-dasharray:4 3}
svg text{font-size:11px;fill:#4a5566}.note{color:#5a6677;font-size:12px}
@media print{body{max-width:none;margin:0;font-size:11px}.kpi{background:none;border:1px solid #ccc}h2{break-after:avoid}
tr,svg{break-inside:avoid}}
"""


def _e(value):
    return escape('' if value is None else str(value), quote=True)


def _pct(share):
    return 'n/a' if share is None else '%.1f%%' % (share * 100)


def _table(table_id, headers, rows, numeric=(), nowrap=()):
    classes = ['n' if index in numeric else 'k' if index in nowrap else '' for index in range(len(headers))]
    cell = ['<td class="%s">' % name if name else '<td>' for name in classes]
    head = ''.join('<th%s>%s</th>' % (' class="n"' if index in numeric else '', _e(name)) for index, name in enumerate(headers))
    body = ''.join('<tr>%s</tr>' % ''.join('%s%s</td>' % (cell[index], _e(value)) for index, value in enumerate(row)) for row in rows)
    return '<table id="%s"><thead><tr>%s</tr></thead><tbody>%s</tbody></table>' % (table_id, head, body)


def line_chart(chart_id, labels, values, width=560, height=200, top=1.0):
    """A line chart of ``values`` (0..top, None: no point) with one circle per point."""
    left, right, upper, lower = 40, 10, 10, 24
    inner_w, inner_h = width - left - right, height - upper - lower
    step = inner_w / max(len(values) - 1, 1)
    points = [(left + index * step, upper + inner_h * (1 - value / top)) for index, value in enumerate(values) if value is not None]
    parts = ['<svg id="%s" viewBox="0 0 %d %d" role="img" data-points="%d">' % (chart_id, width, height, len(points))]
    for tick in range(0, 5):
        y = upper + inner_h * tick / 4
        parts.append('<line class="grid-line" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>' % (left, width - right, y, y))
        parts.append('<text x="%d" y="%.1f" text-anchor="end">%d%%</text>' % (left - 4, y + 4, round(100 * (1 - tick / 4) * top)))
    if points:
        parts.append('<polyline class="line" points="%s"/>' % ' '.join('%.1f,%.1f' % point for point in points))
        radius = 2.5 if len(points) < 60 else 1
        parts.extend('<circle class="point" cx="%.1f" cy="%.1f" r="%s"/>' % (x, y, radius) for x, y in points)
    last = len(labels) - 1
    for index in sorted({0, last // 2, last}) if labels else ():
        anchor = 'start' if index == 0 else 'end' if index == last else 'middle'
        parts.append('<text x="%.1f" y="%d" text-anchor="%s">%s</text>' % (left + index * step, height - 6, anchor, _e(labels[index])))
    parts.append('</svg>')
    return ''.join(parts)


def bar_chart(chart_id, labels, values, width=560, height=200, limit=None, label_every=1):
    """A bar chart, one rect per value; ``limit`` draws a dashed line (the API allowance), bars above it stand out."""
    left, right, upper, lower = 44, 10, 10, 24
    inner_w, inner_h = width - left - right, height - upper - lower
    top = max([*values, limit or 0, 1])
    slot = inner_w / max(len(values), 1)
    parts = ['<svg id="%s" viewBox="0 0 %d %d" role="img" data-bars="%d">' % (chart_id, width, height, len(values)),
             '<line class="axis" x1="%d" x2="%d" y1="%d" y2="%d"/>' % (left, width - right, upper + inner_h, upper + inner_h),
             '<text x="%d" y="%d" text-anchor="end">%s</text>' % (left - 4, upper + 8, _e(top)),
             '<text x="%d" y="%d" text-anchor="end">0</text>' % (left - 4, upper + inner_h)]
    for index, value in enumerate(values):
        bar_h = inner_h * value / top
        warn = ' warn' if limit is not None and value > limit else ''
        parts.append('<rect class="bar%s" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %s</title></rect>'
                     % (warn, left + index * slot + slot * 0.1, upper + inner_h - bar_h, slot * 0.8, bar_h, _e(labels[index]), _e(value)))
        if index % label_every == 0:
            parts.append('<text x="%.1f" y="%d" text-anchor="middle">%s</text>' % (left + (index + 0.5) * slot, height - 6, _e(labels[index])))
    if limit is not None:
        y = upper + inner_h * (1 - limit / top)
        parts.append('<line class="limit" x1="%d" x2="%d" y1="%.1f" y2="%.1f"/>' % (left, width - right, y, y))
    parts.append('</svg>')
    return ''.join(parts)


def _when(moment):
    """``2026-12-01T10:24:33Z`` as ``2026-12-01 10:24`` (the exports keep the full time)."""
    return moment[:10] + ' ' + moment[11:16] if moment else 'never'


def _kpi(label, value):
    return '<div class="kpi"><b>%s</b>%s</div>' % (_e(value), _e(label))


def _identities(row):
    return ', '.join(row['identities'])


def _sources(row):
    return ', '.join('%s %s' % (item['kind'], item['host']) if item['host'] else item['kind'] for item in row['sources'])


def _last_scan(row):
    """When, and by which identity when the device has several (the credit went to all of them)."""
    if not row['last_scanned'] or len(row['identities']) < 2:
        return _when(row['last_scanned'])
    return '%s (on %s)' % (_when(row['last_scanned']), row['last_scan_identity'])


def _devices_table(table_id, rows, columns):
    """``columns``: (title, pick, keep on one line)."""
    shown = rows[:TABLE_ROWS]
    note = ('<p class="note">The first %d of %d; every device is in the CSV and JSON exports.</p>' % (len(shown), len(rows))
            if len(rows) > len(shown) else '')
    return _table(table_id, [column[0] for column in columns], [[column[1](row) for column in columns] for row in shown],
                  nowrap={index for index, column in enumerate(columns) if column[2]}) + note


def render(model, reasons, exports=()):
    """The page for ``model`` (_coverage.report()); ``reasons`` maps reason keys to words; ``exports``: file names to link."""
    cov, counts, filters = model['coverage'], model['counts'], model['filters']
    history = model['history']
    days = [entry['day'] for entry in history]
    active = ', '.join('%s = %s' % (name, value) for name, value in filters.items() if value is not None) or 'none'
    out = ['<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
           '<meta http-equiv="Content-Security-Policy" content="%s">' % CSP,
           '<meta name="viewport" content="width=device-width, initial-scale=1">',
           '<title>roamscan coverage %s</title><style>%s</style></head><body>' % (_e(model['now']), STYLE),
           '<h1>Roaming device scan coverage</h1>',
           '<p class="note">Generated %s · window %s days (since %s) · rescan every %s days · filters: %s</p>'
           % (_e(model['now']), _e(cov['window_days']), _e(cov['since']), _e(model['rescan_days']), _e(active)),
           '<p id="share">%s</p>' % (
               '<strong>%s</strong> of the %s known devices are not overdue (scanned within the last %s days): '
               'the figure the coverage chart draws for each day.' % (_e(_pct(model['covered_share'])), _e(counts['known']),
                                                                      _e(model['rescan_days']))
               if model['covered_share'] is not None else 'No device is known yet.'),
           '<p id="window-share">%s</p>' % (
               'Seen and scanned in the window: <strong>%s</strong> of the %s devices seen in the last %s days were scanned '
               'within them (%s devices).' % (_e(_pct(cov['share'])), _e(cov['seen']), _e(cov['window_days']), _e(cov['scanned']))
               if cov['share'] is not None else 'No device was seen in the last %s days.' % _e(cov['window_days'])),
           '<div class="kpis">', _kpi('known devices', counts['known']), _kpi('present now', counts['present']),
           _kpi('overdue', counts['overdue']), _kpi('scan pending', counts['pending']),
           _kpi('not overdue', _pct(model['covered_share'])), _kpi('due within %d days' % model['due_soon_days'], len(model['due_soon'])),
           '</div><div class="grid"><section><h2>Coverage over time</h2>',
           line_chart('chart-coverage', days, [entry['covered_share'] for entry in history]),
           '<p class="note">Share of known devices not overdue, at the last cycle of each day (%d days of history%s).</p>'
           % (len(history), '; the history counts every device, whatever the filters' if active != 'none' else ''),
           '</section><section><h2>Age of the last scan</h2>',
           bar_chart('chart-ages', [item['bucket'] for item in model['ages']], [item['devices'] for item in model['ages']]),
           '<p class="note">Devices per age of their last completed scan, in days.</p></section></div>',
           '<h2>Overdue devices (%d)</h2>' % counts['overdue'],
           _table('overdue-reasons', ['Why overdue', 'Devices'], [[reasons[key], count] for key, count in model['overdue_reasons'].items()],
                  numeric=(1,)),
           _devices_table('overdue', model['overdue'], [
               ('Device', lambda row: row['name'], False), ('Host name', lambda row: row['hostname'], False),
               ('Identities', _identities, False), ('Sources', _sources, False),
               ('IP', lambda row: row['ip'], True), ('Why', lambda row: reasons[row['overdue_reason']], False),
               ('Overdue (days)', lambda row: row['overdue_days'], True), ('Last seen', lambda row: _when(row['last_seen']), True),
               ('Last scanned', _last_scan, False)]),
           '<h2>Due soon (%d)</h2>' % len(model['due_soon']),
           _devices_table('due-soon', model['due_soon'], [
               ('Device', lambda row: row['name'], False), ('Host name', lambda row: row['hostname'], False),
               ('Identities', _identities, False), ('Sources', _sources, False),
               ('Due in (days)', lambda row: row['due_in_days'], True), ('Last scanned', _last_scan, False),
               ('Present now', lambda row: 'yes' if row['present'] else 'no', False)]),
           '<h2>By DHCP server, presence source and site</h2><div class="grid">']
    for field, title in (('dhcp_server', 'DHCP server'), ('source', 'Source'), ('site', 'Site')):
        out.append(_table('by-%s' % field.replace('_', '-'), [title, 'Devices', 'Seen', 'Scanned', 'Overdue'],
                          [[item['name'], item['devices'], item['seen'], item['scanned'], item['overdue']] for item in model['breakdown'][field]],
                          numeric=(1, 2, 3, 4)))
    scans, api = model['scans'], model['api']
    out += ['</div><div class="grid"><section><h2>Scans launched and their outcomes</h2>',
            bar_chart('chart-scans', days, [entry['launched_targets'] for entry in history], label_every=max(len(days) // 6, 1)),
            _table('scans', ['In the window', 'Count'],
                   [['scans launched', scans['launched_scans']], ['targets launched', scans['launched_targets']],
                    ['devices credited', scans['credited']], ['not credited', scans['not_credited']],
                    ['cycles with a fault', scans['faults']]], numeric=(1,)),
            _table('dropped', ['Dropped or not credited, why', 'Count'], list(model['dropped'].items()), numeric=(1,)),
            '</section><section><h2>Qualys API calls</h2>',
            bar_chart('chart-api', days, [entry['api_calls_total'] for entry in history], limit=api['allowance_per_day'],
                      label_every=max(len(days) // 6, 1)),
            '<p class="note">Calls per day; the dashed line is the allowance (%s per day). Busiest day: %s.</p>'
            % (_e(api['allowance_per_day']), _e(api['busiest_day'])),
            _table('api', ['API', 'Calls in the window'], list(api['by_api'].items()), numeric=(1,)),
            '</section></div>']
    if exports:
        out.append('<p class="note">Exports: %s (schema: docs/coverage_report.md).</p>'
                   % ', '.join('<a href="%s">%s</a>' % (_e(name), _e(name)) for name in exports))
    out.append('</body></html>\n')
    return ''.join(out)
