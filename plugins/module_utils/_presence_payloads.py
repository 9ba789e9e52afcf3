# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the presence receiver accepts, as rs2 records: NDJSON presence v1, Splunk's webhook alert
payload through a field map, a NAC session (pxGrid-like), and VPN syslog lines.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only (the receiver runs on a collector host).

parse_body(endpoint, body, now) returns (items, skipped): PresenceItems and {reason: count} of
items left out. PayloadError when the body as a whole is unusable (HTTP 400). Everything is
untrusted: IPs are validated, identities and aliases escaped by the rs2 rule, nothing evaluated.
Only a disconnect may name no IP (the rs2 ``-``): it ends what that identity holds from the receiver.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._logon_records import Ignored, SkippedLine
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import ID_KINDS
from ansible_collections.roamscan.qualys.plugins.module_utils._vpn_log_lines import parse_vpn_line

FORMATS = ('ndjson', 'splunk', 'nac', 'syslog')
EVENT_KINDS = {'start': 'connect', 'connect': 'connect', 'seen': 'seen', 'end': 'disconnect', 'disconnect': 'disconnect'}
NAC_STATES = {'STARTED': 'connect', 'AUTHENTICATED': 'connect', 'POSTURED': 'seen', 'DISCONNECTED': 'disconnect'}
SPLUNK_FIELD_MAP = {'ip_field': 'ip', 'identity_field': 'user', 'identity_kind': 'vpn_user', 'time_field': '_time',
                    'event_field': None, 'alias_fields': {}}
MAX_LINES = 1000
_ALIAS_NAME = re.compile(r'[a-z_]{1,16}')
_MAX_VALUE = 256


class PayloadError(ValueError):
    """The body cannot be read at all (not JSON, wrong shape); ``reason`` is a short key."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason


class PresenceItem:
    """One accepted presence event, ready to be written as an rs2 record."""

    __slots__ = ('event_id', 'kind', 'id_kind', 'id_value', 'ip', 'time', 'aliases')

    def __init__(self, event_id, kind, id_kind, id_value, ip, time, aliases):
        self.event_id, self.kind, self.id_kind, self.id_value = event_id, kind, id_kind, id_value
        self.ip, self.time, self.aliases = ip, time, aliases


def event_key(endpoint_name, event_id):
    """The id under which an event is remembered: per endpoint, fixed length, safe."""
    return hashlib.sha256(('%s\0%s' % (endpoint_name, event_id)).encode('utf-8', 'surrogateescape')).hexdigest()[:24]


def _time(value, now):
    """Epoch of an ISO-8601 time with zone or of epoch seconds (number or string); ``now`` if None."""
    if value is None or value == '':
        return now
    if isinstance(value, bool):
        raise SkippedLine('bad_time')
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            moment = datetime.datetime.fromisoformat(text[:-1] + '+00:00' if text.endswith('Z') else text)
        except ValueError:
            raise SkippedLine('bad_time') from None
        if moment.tzinfo is not None:
            return moment.timestamp()
    raise SkippedLine('bad_time')


def _text(value, reason):
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_VALUE:
        raise SkippedLine(reason)
    return value.strip()


def _identity(kind, value):
    if kind not in ID_KINDS:
        raise SkippedLine('bad_identity_kind')
    value = _text(value, 'bad_identity')
    if kind == 'mac':
        try:
            return normalize_mac(value)
        except InvalidAddress:
            raise SkippedLine('bad_mac') from None
    return value


def _ip(value, kind):
    """The normalized IP; None for a disconnect that names none (a sighting or connect without one is skipped)."""
    if kind == 'disconnect' and value in (None, ''):
        return None
    try:
        return normalize_ip(value if isinstance(value, str) else '')
    except InvalidAddress:
        raise SkippedLine('bad_ip') from None


def _aliases(pairs):
    aliases = {}
    for name, value in pairs:
        if not isinstance(name, str) or not _ALIAS_NAME.fullmatch(name):
            raise SkippedLine('bad_alias')
        aliases[name] = _text(value, 'bad_alias')
    return aliases


def _ndjson_item(obj, now):
    if not isinstance(obj, dict):
        raise SkippedLine('not_object')
    kind = EVENT_KINDS.get(obj.get('event'))
    if kind is None:
        raise SkippedLine('bad_event')
    identity = obj.get('identity')
    if not isinstance(identity, dict):
        raise SkippedLine('bad_identity')
    aliases = obj.get('aliases') or {}
    if not isinstance(aliases, dict):
        raise SkippedLine('bad_alias')
    event_id = obj.get('event_id')
    event_id = None if event_id is None else _text(event_id, 'bad_event_id')
    return PresenceItem(event_id, kind, identity.get('kind'), _identity(identity.get('kind'), identity.get('value')),
                        _ip(obj.get('ip'), kind), _time(obj.get('time'), now), _aliases(aliases.items()))


def _lines(body):
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError:
        raise PayloadError('not_utf8', 'body is not UTF-8') from None
    lines = [line for line in text.split('\n') if line.strip()]
    if len(lines) > MAX_LINES:
        raise PayloadError('too_many_lines', 'more than %d lines in one request' % MAX_LINES)
    return lines


def _json(body):
    try:
        return json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError):
        raise PayloadError('bad_json', 'body is not a JSON document') from None


def _collect(items, skipped, build):
    try:
        items.append(build())
    except SkippedLine as exc:
        skipped[exc.reason] = skipped.get(exc.reason, 0) + 1
    except Ignored as exc:
        skipped[exc.reason] = skipped.get(exc.reason, 0) + 1


def _splunk(endpoint, body, now, items, skipped):
    document = _json(body)
    if not isinstance(document, dict) or not isinstance(document.get('result'), dict):
        raise PayloadError('not_splunk', 'no "result" object: not a Splunk webhook alert payload')
    fields = dict(SPLUNK_FIELD_MAP, **endpoint.get('field_map', {}))
    result = document['result']

    def build():
        event_field = fields['event_field']
        kind = EVENT_KINDS.get(result.get(event_field)) if event_field else 'seen'
        if kind is None:
            raise SkippedLine('bad_event')
        identity = _identity(fields['identity_kind'], result.get(fields['identity_field']))
        ip = _ip(result.get(fields['ip_field']), kind)
        aliases = _aliases((name, result.get(field)) for name, field in fields['alias_fields'].items()
                           if result.get(field) not in (None, ''))
        # Splunk resends an alert with the same sid; one alert may report several rows over time
        sid = document.get('sid')
        event_id = None if not isinstance(sid, str) else '%s|%s|%s' % (sid, identity, ip)
        return PresenceItem(event_id, kind, fields['identity_kind'], identity, ip,
                            _time(result.get(fields['time_field']), now), aliases)

    _collect(items, skipped, build)


def _nac(body, now, items, skipped):
    document = _json(body)
    sessions = document.get('sessions') if isinstance(document, dict) and 'sessions' in document else [document]
    if not isinstance(sessions, list):
        raise PayloadError('not_nac', '"sessions" is not a list')
    for session in sessions[:MAX_LINES]:
        if not isinstance(session, dict):
            skipped['not_object'] = skipped.get('not_object', 0) + 1
            continue
        addresses = session.get('ipAddresses')
        if not isinstance(addresses, list) or not addresses:
            skipped['bad_ip'] = skipped.get('bad_ip', 0) + 1
            continue
        for address in addresses:
            def build(address=address):
                kind = NAC_STATES.get(session.get('state'))
                if kind is None:
                    raise SkippedLine('bad_state')
                mac = _identity('mac', session.get('macAddress', session.get('mac')))
                ip = _ip(address, kind)
                user = session.get('userName')
                aliases = _aliases([('user', user)]) if user not in (None, '') else {}
                stamp = session.get('timestamp')
                event_id = '%s|%s|%s|%s' % (mac, ip, session.get('state'), stamp) if stamp else None
                return PresenceItem(event_id, kind, 'mac', mac, ip, _time(stamp, now), aliases)
            _collect(items, skipped, build)


def _syslog(body, now, items, skipped):
    for line in _lines(body):
        def build(line=line):
            event = parse_vpn_line(line, now)
            if event.ip is None and event.kind != 'disconnect':
                raise Ignored('no_tunnel_ip')
            aliases = dict(event.aliases, parser=event.parser)
            # a retried batch carries the same lines
            return PresenceItem(line, event.kind, 'vpn_user', event.user, event.ip,
                                float(event.time if event.time is not None else now), aliases)
        _collect(items, skipped, build)


def parse_body(endpoint, body, now):
    """(items, skipped) of one request body for ``endpoint`` (its ``format`` and ``field_map``)."""
    items, skipped = [], {}
    form = endpoint['format']
    if form == 'ndjson':
        for line in _lines(body):
            try:
                obj = json.loads(line)
            except ValueError:
                skipped['bad_json'] = skipped.get('bad_json', 0) + 1
                continue
            _collect(items, skipped, lambda obj=obj: _ndjson_item(obj, now))
    elif form == 'splunk':
        _splunk(endpoint, body, now, items, skipped)
    elif form == 'nac':
        _nac(body, now, items, skipped)
    elif form == 'syslog':
        _syslog(body, now, items, skipped)
    else:
        raise PayloadError('bad_format', 'unknown format %r' % (form,))
    return items, skipped
