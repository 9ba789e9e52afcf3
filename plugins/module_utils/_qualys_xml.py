# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Parse Qualys VM API answers (SIMPLE_RETURN, SCAN_LIST_OUTPUT, HOST_LIST_OUTPUT, fetch JSON).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

Parsing goes through defusedxml: Qualys answers carry a DOCTYPE naming an external DTD, which is
allowed but never fetched; entity declarations (XML bombs, external entities) are refused.
"""

from __future__ import annotations

import json
import re
import traceback

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import (
    QualysParseError,
    QualysUnsafeXmlError,
)

try:
    from xml.etree.ElementTree import ParseError as _ExpatParseError

    import defusedxml.ElementTree as _defused_et
    from defusedxml import DefusedXmlException as _DefusedXmlException
except ImportError:
    HAS_DEFUSEDXML = False
    DEFUSEDXML_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_DEFUSEDXML = True
    DEFUSEDXML_IMPORT_ERROR = None

# Qualys documents only these; anything else is treated as "not finished yet" (reference 5.2).
TERMINAL_STATES = frozenset(('Finished', 'Canceled', 'Error'))
ACTIVE_STATES = ('Queued', 'Loading', 'Running')
PAGINATION_WARNING_CODE = '1980'


def parse_xml(body):
    """Return the root element of a Qualys XML answer, refusing entity declarations."""
    if not HAS_DEFUSEDXML:
        raise QualysParseError('the Python library defusedxml is required to parse Qualys answers')
    if isinstance(body, str):
        body = body.encode('utf-8')
    try:
        return _defused_et.fromstring(body, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except _DefusedXmlException as exc:
        raise QualysUnsafeXmlError(
            'refused a Qualys answer that declares XML entities or external references (%s); '
            'it was not parsed, so an XML bomb cannot expand' % type(exc).__name__) from None
    except _ExpatParseError as exc:
        raise QualysParseError('Qualys answer is not well-formed XML: %s' % exc) from None


def child_text(element, path):
    """Stripped text (CDATA included) of the first element at path, or None when absent or empty."""
    found = element.find(path)
    if found is None or found.text is None:
        return None
    text = found.text.strip()
    return text or None


def _items(response):
    items = {}
    for item in response.findall('ITEM_LIST/ITEM'):
        key = child_text(item, 'KEY')
        if key is not None:
            items[key] = child_text(item, 'VALUE')
    return items


def parse_simple_return(root):
    """SIMPLE_RETURN -> {datetime, code, text, items}; success is the absence of CODE."""
    if root.tag != 'SIMPLE_RETURN':
        raise QualysParseError('expected SIMPLE_RETURN, got <%s>' % root.tag)
    response = root.find('RESPONSE')
    if response is None:
        raise QualysParseError('SIMPLE_RETURN without RESPONSE')
    return {
        'datetime': child_text(response, 'DATETIME'),
        'code': child_text(response, 'CODE'),
        'text': child_text(response, 'TEXT'),
        'items': _items(response),
    }


def _expect_root(root, tag):
    if root.tag != tag:
        raise QualysParseError('expected <%s>, got <%s>' % (tag, root.tag))
    response = root.find('RESPONSE')
    if response is None:
        raise QualysParseError('<%s> without RESPONSE' % tag)
    return response


def parse_scan_list(root):
    """SCAN_LIST_OUTPUT -> list of scan dicts (an absent SCAN_LIST means no scans)."""
    response = _expect_root(root, 'SCAN_LIST_OUTPUT')
    scans = []
    for scan in response.findall('SCAN_LIST/SCAN'):
        ref = child_text(scan, 'REF')
        if ref is None:
            raise QualysParseError('scan list entry without REF')
        processed = child_text(scan, 'PROCESSED')
        scans.append({
            'ref': ref,
            'type': child_text(scan, 'TYPE'),
            'title': child_text(scan, 'TITLE'),
            'user_login': child_text(scan, 'USER_LOGIN'),
            'launched': child_text(scan, 'LAUNCH_DATETIME'),
            'duration': child_text(scan, 'DURATION'),
            'priority': child_text(scan, 'PROCESSING_PRIORITY'),
            'processed': processed == '1',
            'state': child_text(scan, 'STATUS/STATE'),
            'sub_state': child_text(scan, 'STATUS/SUB_STATE'),
            'target': child_text(scan, 'TARGET'),
        })
    return scans


_ID_MIN = re.compile(r'[?&]id_min=([0-9]+)')


def parse_host_list(root):
    """HOST_LIST_OUTPUT -> {hosts, ids, next_id_min}.

    next_id_min is read from the 1980 WARNING URL; the caller re-issues its own request with it
    rather than following the URL, which may name another API version or host (reference 7.3).
    """
    response = _expect_root(root, 'HOST_LIST_OUTPUT')
    hosts = []
    for host in response.findall('HOST_LIST/HOST'):
        hosts.append({
            'id': child_text(host, 'ID'),
            'ip': child_text(host, 'IP'),
            'tracking_method': child_text(host, 'TRACKING_METHOD'),
            'dns': child_text(host, 'DNS'),
            'netbios': child_text(host, 'NETBIOS'),
            'os': child_text(host, 'OS'),
            'last_vuln_scan': child_text(host, 'LAST_VULN_SCAN_DATETIME'),
            'last_vm_scanned_date': child_text(host, 'LAST_VM_SCANNED_DATE'),
            'last_vm_scanned_duration': child_text(host, 'LAST_VM_SCANNED_DURATION'),
        })
    ids = [child_text(node, '.') for node in response.findall('ID_SET/ID')]
    next_id_min = None
    warning = response.find('WARNING')
    if warning is not None and child_text(warning, 'CODE') == PAGINATION_WARNING_CODE:
        url = child_text(warning, 'URL') or ''
        match = _ID_MIN.search(url)
        if match is None:
            raise QualysParseError('host list is truncated but its WARNING URL carries no id_min')
        next_id_min = int(match.group(1))
    return {'hosts': hosts, 'ids': [i for i in ids if i], 'next_id_min': next_id_min}


def _loose_key(key):
    """Fetch JSON keys are irregular (``host_not_scanned,_scan_canceled_by_user_ip_``): compare letters only."""
    return re.sub(r'[^a-z]', '', key.lower())


# Loose key -> reason reported in not_scanned. Order matters: first match wins.
_NOT_SCANNED_KEYS = (
    ('notalive', 'not_alive'),
    ('excluded', 'excluded'),
    ('canceled', 'canceled'),
    ('cancelled', 'canceled'),
    ('aborted', 'aborted'),
    ('blocked', 'blocked'),
    ('unresolved', 'unresolved'),
    ('duplicate', 'duplicate'),
    ('notscanned', 'not_scanned'),
)
_NO_VULN_KEY = 'novulnerabilitiesmatch'


def parse_scan_results_json(body):
    """Fetch JSON (a flat array) -> {header, finding_ips, no_vuln, not_scanned: {reason: [ranges]}}.

    Ranges stay text ("10.0.0.1-10.0.0.3"); the caller expands them against the scan's targets.
    """
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise QualysParseError('scan results are not JSON: %s' % exc) from None
    if not isinstance(data, list):
        raise QualysParseError('scan results JSON is not an array')
    header = {}
    finding_ips = set()
    no_vuln = []
    not_scanned = {}
    for entry in data:
        if not isinstance(entry, dict):
            raise QualysParseError('scan results JSON holds a non-object entry')
        if 'ip' in entry and 'qid' in entry:
            if entry['ip']:
                finding_ips.add(str(entry['ip']).strip())
            continue
        if 'reference' in entry or 'launch_date' in entry:
            header = entry
            continue
        for key, value in entry.items():
            loose = _loose_key(key)
            if loose.startswith(_NO_VULN_KEY):
                no_vuln.append(str(value or ''))
                continue
            for marker, reason in _NOT_SCANNED_KEYS:
                if marker in loose:
                    not_scanned.setdefault(reason, []).append(str(value or ''))
                    break
    return {'header': header, 'finding_ips': finding_ips, 'no_vuln': no_vuln, 'not_scanned': not_scanned}
