# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""XML/HTML bodies shaped like the real Qualys answers in the reference samples.

Same prologue as the recorded answers: XML declaration, a DOCTYPE naming the platform's external
DTD (clients must not fetch it), and the evaluation/copyright comments around the root element.
"""
from __future__ import annotations

from xml.sax.saxutils import escape

EVAL_COMMENT = '<!-- This report was generated with an evaluation version of Qualys //--> '
COPYRIGHT_COMMENT = ('<!-- CONFIDENTIAL AND PROPRIETARY INFORMATION. Qualys provides the QualysGuard Service '
                     '"As Is," without any warranty of any kind. Qualys makes no warranty that the information '
                     'contained in this report is complete or error-free. Copyright 2026, Qualys, Inc. //--> ')


def cdata(text):
    return '<![CDATA[%s]]>' % str(text).replace(']]>', ']]]]><![CDATA[>')


def element(tag, text=None, raw=None):
    if raw is not None:
        return '<%s>%s</%s>' % (tag, raw, tag)
    return '<%s>%s</%s>' % (tag, escape(str(text)), tag)


def document(root, dtd_url, inner, comments=True):
    lines = ['<?xml version="1.0" encoding="UTF-8" ?>',
             '<!DOCTYPE %s SYSTEM "%s">' % (root, dtd_url)]
    if comments:
        lines.append(EVAL_COMMENT)
    lines.append('<%s>\n  <RESPONSE>\n%s\n  </RESPONSE>\n</%s>' % (root, inner, root))
    if comments:
        lines.extend([EVAL_COMMENT, COPYRIGHT_COMMENT])
    return '\n'.join(lines) + '\n'


def simple_return(base_url, datetime, text, code=None, items=None):
    parts = ['    ' + element('DATETIME', datetime)]
    if code is not None:
        parts.append('    ' + element('CODE', code))
    parts.append('    ' + element('TEXT', text))
    if items:
        rendered = ''.join('\n      <ITEM>%s%s</ITEM>' % (element('KEY', key), element('VALUE', value))
                           for key, value in items)
        parts.append('    <ITEM_LIST>%s\n    </ITEM_LIST>' % rendered)
    return document('SIMPLE_RETURN', base_url + '/api/2.0/simple_return.dtd', '\n'.join(parts), comments=False)


def scan_list(base_url, version, datetime, scans):
    inner = ['    ' + element('DATETIME', datetime)]
    if scans:
        inner.append('    <SCAN_LIST>')
        for scan in scans:
            status = '<STATE>%s</STATE>' % scan['state']
            if scan.get('sub_state'):
                status += '<SUB_STATE>%s</SUB_STATE>' % scan['sub_state']
            inner.append('      <SCAN>\n        ' + '\n        '.join([
                element('REF', scan['ref']),
                element('TYPE', scan['type']),
                element('TITLE', raw=cdata(scan['title'])),
                element('USER_LOGIN', scan['user_login']),
                element('LAUNCH_DATETIME', scan['launched']),
                element('DURATION', scan['duration']),
                element('PROCESSING_PRIORITY', scan['priority']),
                element('PROCESSED', scan['processed']),
                '<STATUS>%s</STATUS>' % status,
                element('TARGET', raw=cdata(scan['target'])),
            ]) + '\n      </SCAN>')
        inner.append('    </SCAN_LIST>')
    return document('SCAN_LIST_OUTPUT', '%s/api/%s/fo/scan/scan_list_output.dtd' % (base_url, version),
                    '\n'.join(inner))


_HOST_FIELDS = (
    ('ID', 'id', False), ('IP', 'ip', False), ('TRACKING_METHOD', 'tracking_method', False),
    ('DNS', 'dns', True), ('NETBIOS', 'netbios', True), ('OS', 'os', True),
    ('LAST_VULN_SCAN_DATETIME', 'last_vuln_scan', False), ('LAST_VM_SCANNED_DATE', 'last_vuln_scan', False),
    ('LAST_VM_SCANNED_DURATION', 'last_vm_scanned_duration', False),
)


def host_list(base_url, datetime, hosts, ids_only, next_url, limit):
    inner = ['    ' + element('DATETIME', datetime)]
    if hosts and ids_only:
        inner.append('    <ID_SET>\n%s\n    </ID_SET>' % '\n'.join('      ' + element('ID', h['id']) for h in hosts))
    elif hosts:
        inner.append('    <HOST_LIST>')
        for host in hosts:
            fields = [element(tag, raw=cdata(host[key])) if is_cdata else element(tag, host[key])
                      for tag, key, is_cdata in _HOST_FIELDS if host.get(key) not in (None, '')]
            inner.append('      <HOST>\n        %s\n      </HOST>' % '\n        '.join(fields))
        inner.append('    </HOST_LIST>')
    if next_url:
        inner.append('    <WARNING>\n      %s\n      %s\n      <URL>\n        %s\n      </URL>\n    </WARNING>' % (
            element('CODE', '1980'),
            element('TEXT', '%d record limit exceeded. Use URL to get next batch of results.' % limit),
            cdata(next_url)))
    return document('HOST_LIST_OUTPUT', base_url + '/api/2.0/fo/asset/host/host_list_output.dtd', '\n'.join(inner))


def html_page(status, title, message):
    return ('<!DOCTYPE html>\n<html><head><title>%s</title></head>\n<body><h1>%s</h1><p>%s</p></body></html>\n'
            % (escape(title), escape(title), escape(message)))


MAINTENANCE_PAGE = html_page(503, 'Qualys - Scheduled Maintenance',
                             'The Qualys Cloud Platform is undergoing scheduled maintenance. Please try again later.')

XML_BOMB = ('<?xml version="1.0" encoding="UTF-8" ?>\n<!DOCTYPE SIMPLE_RETURN [\n'
            + '  <!ENTITY lol0 "lol">\n'
            + ''.join('  <!ENTITY lol%d "%s">\n' % (level, ('&lol%d;' % (level - 1)) * 10) for level in range(1, 10))
            + ']>\n<SIMPLE_RETURN><RESPONSE><DATETIME>&lol9;</DATETIME><TEXT>&lol9;</TEXT></RESPONSE></SIMPLE_RETURN>\n')

MALFORMED_XML = ('<?xml version="1.0" encoding="UTF-8" ?>\n<SCAN_LIST_OUTPUT>\n  <RESPONSE>\n'
                 '    <DATETIME>2026-01-01T00:00:00Z</DATETIME>\n    <SCAN_LIST>\n      <SCAN><REF>scan/1')
