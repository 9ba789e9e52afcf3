# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""State and request handling of the Qualys VM API simulator (no sockets here; see server.py)."""
from __future__ import annotations

import base64
import calendar
import collections
import copy
import ipaddress
import json
import math
import threading
import time
from urllib.parse import parse_qsl, urlencode

from . import render

API_PATHS = {
    # path -> (resource, API version)
    '/api/2.0/fo/scan/': ('scan', '2.0'),
    '/api/3.0/fo/scan/': ('scan', '3.0'),
    '/api/2.0/fo/asset/host/': ('host', '2.0'),
    '/api/3.0/fo/asset/host/': ('host', '3.0'),
    '/api/4.0/fo/asset/host/': ('host', '4.0'),
    '/api/5.0/fo/asset/host/': ('host', '5.0'),
}
ACTIONS = {
    'scan': ('launch', 'list', 'fetch', 'cancel'),
    'host': ('list',),
}
# Parameters the simulator implements; any other name answers 1901 so a client notices.
PARAMETERS = {
    'scan:launch': {'action', 'echo_request', 'scan_title', 'option_id', 'option_title', 'ip', 'iscanner_id',
                    'iscanner_name', 'default_scanner', 'scanners_in_ag', 'priority'},
    'scan:list': {'action', 'echo_request', 'scan_ref', 'state', 'processed', 'type', 'target', 'user_login',
                  'launched_after_datetime', 'launched_before_datetime', 'show_status', 'show_last', 'show_ags',
                  'show_op'},
    'scan:fetch': {'action', 'echo_request', 'scan_ref', 'ips', 'mode', 'output_format'},
    'scan:cancel': {'action', 'echo_request', 'scan_ref'},
    'host:list': {'action', 'echo_request', 'truncation_limit', 'id_min', 'id_max', 'details', 'ips',
                  'vm_scan_since', 'no_vm_scan_since', 'show_tags', 'show_asset_id', 'os_hostname',
                  'cloud_agent_activationkey'},
}
SCAN_STATES = ('Running', 'Paused', 'Canceled', 'Finished', 'Error', 'Queued', 'Loading')
PRIORITIES = ('No Priority', 'Emergency', 'Ultimate', 'Critical', 'Major', 'High', 'Standard', 'Medium',
              'Minor', 'Low')
FAULT_KINDS = ('http_500', 'http_503_html', 'slow', 'drop_response', 'malformed_xml', 'xml_bomb', 'rate_409',
               'concurrency_409', 'error_in_200')
PRIVATE_NETS = [ipaddress.ip_network(n) for n in ('10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16')]


def iso(epoch):
    return time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(epoch))


def parse_iso(text):
    text = text.strip()
    fmt = '%Y-%m-%d' if len(text) == 10 else '%Y-%m-%dT%H:%M:%SZ'
    return calendar.timegm(time.strptime(text, fmt))


def hms(seconds):
    seconds = max(int(seconds), 0)
    return '%02d:%02d:%02d' % (seconds // 3600, seconds % 3600 // 60, seconds % 60)


def parse_ip_list(text):
    """'10.0.0.1, 10.0.0.3-10.0.0.5' -> sorted merged [(start, end)]; ValueError on anything else."""
    intervals = []
    for part in text.split(','):
        part = part.strip()
        if not part:
            continue
        first, dash, last = part.partition('-')
        start = int(ipaddress.IPv4Address(first.strip()))
        end = int(ipaddress.IPv4Address(last.strip())) if dash else start
        if end < start:
            raise ValueError(part)
        intervals.append((start, end))
    merged = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def format_ip_list(intervals, sep=','):
    def one(start, end):
        first = str(ipaddress.IPv4Address(start))
        return first if start == end else '%s-%s' % (first, ipaddress.IPv4Address(end))
    return sep.join(one(start, end) for start, end in intervals)


def format_values(values, sep=','):
    """Integer addresses -> '10.0.0.1-10.0.0.3,10.0.0.9'."""
    merged = []
    for value in sorted(values):
        if merged and value == merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], value)
        else:
            merged.append((value, value))
    return format_ip_list(merged, sep)


def in_intervals(value, intervals):
    return any(s <= value <= e for s, e in intervals)


class Response:
    def __init__(self, status, body, content_type='text/xml;charset=UTF-8', headers=None):
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = dict(headers or {})
        self.code = None
        self.drop = False


class ApiError(Exception):
    """A SIMPLE_RETURN error answer."""

    def __init__(self, status, code, text, items=None):
        super().__init__(text)
        self.status, self.code, self.text, self.items = status, code, text, items


# Default API limits per service level (reference 8.2: Express/Consultant 1 concurrent and 50 calls a day,
# Standard 2 concurrent and 300 calls an hour, per API); config ``tier`` applies one to every API.
TIERS = {'standard': {'limit': 300, 'window_sec': 3600, 'concurrency': 2},
         'express': {'limit': 50, 'window_sec': 86400, 'concurrency': 1}}


def default_config():
    return {
        'queue_seconds': 190,      # appliances poll for jobs every 190 s (reference 4.3)
        'scan_seconds': 600,
        'process_seconds': 300,
        'option_profiles': {'1001': 'Initial Options', '1002': 'Laptop Light Scan'},
        'scanners': {'2001': 'laptop_scanner_1', '2002': 'laptop_scanner_2'},
        'subscription': '10.0.0.0-10.255.255.255,172.16.0.0-172.31.255.255,192.168.0.0-192.168.255.255',
        'limits': {'*': {'limit': 300, 'window_sec': 3600, 'concurrency': 2}},
    }


class SimState:
    """Everything the simulator knows; all access goes through the lock."""

    SAVED = ('config', '_real0', '_epoch0', 'offset', 'scans', 'hosts', 'next_scan_id', 'next_host_id', 'alive',
             'faults', 'calls', 'accepted', 'running')

    def __init__(self, base_url='http://127.0.0.1', username='roamscan_api', password='sim-password',
                 start_epoch=None, config=None):
        self.lock = threading.RLock()
        self.base_url = base_url
        self.username = username
        self.password = password
        self._initial = (start_epoch, config)
        self.reset()

    # -- control -------------------------------------------------------------------------

    def reset(self, config=None):
        with self.lock:
            start_epoch, initial_config = self._initial
            self.config = default_config()
            self.config.update(initial_config or {})
            self.config.update(config or {})
            if self.config.get('tier'):
                if self.config['tier'] not in TIERS:
                    raise ValueError('unknown tier %r (known: %s)' % (self.config['tier'], ', '.join(sorted(TIERS))))
                self.config['limits'] = dict(self.config['limits'], **{'*': dict(TIERS[self.config['tier']])})
            self._real0 = time.monotonic()
            self._epoch0 = float(int(start_epoch if start_epoch is not None else time.time()))
            self.offset = 0.0
            self.scans = []
            self.hosts = {}
            self.next_scan_id = 100000
            self.next_host_id = 5000000
            self.alive = None          # None: every target answers; else {ip_int: identity}
            self.faults = []
            self.calls = []
            self.accepted = collections.defaultdict(collections.deque)
            self.running = collections.Counter()

    def save(self):
        """A copy of everything the simulator knows, for ``restore`` (tests that start many runs from one state)."""
        with self.lock:
            return copy.deepcopy({name: getattr(self, name) for name in self.SAVED})

    def restore(self, saved):
        """Go back to what ``save`` returned: scans, hosts, call log and clock (the clock keeps running)."""
        with self.lock:
            for name, value in copy.deepcopy(saved).items():
                setattr(self, name, value)

    def now(self):
        if self.config.get('clock') == 'stopped':   # moves only when told to (benchmarks of a whole day)
            return self._epoch0 + self.offset
        return self._epoch0 + (time.monotonic() - self._real0) + self.offset

    def advance(self, seconds=None, set_to=None):
        with self.lock:
            self.tick()
            if set_to is not None:
                self.offset += parse_iso(set_to) - self.now()
            if seconds:
                self.offset += float(seconds)
            self.tick()
            return iso(self.now())

    def set_alive(self, entries=None, everyone=False):
        """entries: IPs/ranges or {ip, dns, netbios, os}; everyone=True restores 'all targets alive'."""
        with self.lock:
            self.tick()
            if everyone:
                self.alive = None
                return
            alive = {}
            for entry in entries or []:
                identity = entry if isinstance(entry, dict) else {'ip': entry}
                for start, end in parse_ip_list(identity['ip']):
                    for value in range(start, end + 1):
                        alive[value] = {k: v for k, v in identity.items() if k != 'ip'}
            self.alive = alive

    def seed_hosts(self, records):
        with self.lock:
            for record in records:
                ip = str(ipaddress.IPv4Address(record['ip']))
                host = self._host_record(ip, record.get('tracking_method', 'IP'))
                for key in ('dns', 'netbios', 'os', 'last_vuln_scan', 'last_vm_scanned_duration'):
                    if key in record:
                        host[key] = record[key]

    def set_limits(self, api='*', limit=None, window_sec=None, concurrency=None):
        with self.lock:
            current = dict(self.config['limits'].get(api) or self.config['limits']['*'])
            for key, value in (('limit', limit), ('window_sec', window_sec), ('concurrency', concurrency)):
                if value is not None:
                    current[key] = int(value)
            self.config['limits'][api] = current
            return current

    def add_fault(self, kind, api='*', count=1, **options):
        if kind not in FAULT_KINDS:
            raise ValueError('unknown fault kind %r; known: %s' % (kind, ', '.join(FAULT_KINDS)))
        with self.lock:
            fault = {'kind': kind, 'api': api, 'count': int(count)}
            fault.update(options)
            self.faults.append(fault)
            return fault

    def scan_action(self, ref, action):
        """Admin lifecycle control: start | finish | process | cancel | error, for one ref or '*'."""
        with self.lock:
            self.tick()
            now = self.now()
            chosen = [s for s in self.scans if ref in ('*', s['ref'])]
            if not chosen:
                raise KeyError(ref)
            for scan in chosen:
                if action in ('start', 'finish', 'process'):
                    scan['start_at'] = min(scan['start_at'], now)
                if action in ('finish', 'process'):
                    scan['finish_at'] = min(scan['finish_at'], now)
                if action == 'process':
                    scan['processed_at'] = min(scan['processed_at'], now)
                if action in ('cancel', 'error'):
                    scan['final_state'] = 'Canceled' if action == 'cancel' else 'Error'
                    scan['finish_at'] = min(scan['finish_at'], now)
                    scan['processed_at'] = min(scan['processed_at'], now)
            self.tick()
            return [self.scan_view(s) for s in chosen]

    def snapshot(self):
        with self.lock:
            self.tick()
            return {
                'now': iso(self.now()),
                'scans': [self.scan_view(s) for s in self.scans],
                'hosts': sorted(self.hosts.values(), key=lambda h: h['id']),
                'alive': 'all' if self.alive is None else format_values(self.alive),
                'faults': list(self.faults),
                'config': self.config,
            }

    # -- scan lifecycle ------------------------------------------------------------------

    def scan_state(self, scan, now):
        if now < scan['start_at']:
            return 'Queued'
        if now < scan['finish_at']:
            return 'Running'
        return scan.get('final_state', 'Finished')

    def tick(self):
        """Apply transitions due by now: results at Finished, host records once processed."""
        now = self.now()
        for scan in self.scans:
            if scan['alive'] is None and now >= scan['finish_at']:
                scan['alive'] = self._alive_targets(scan) if 'final_state' not in scan else {}
            if not scan['host_update_done'] and now >= scan['processed_at'] and 'final_state' not in scan:
                scan['host_update_done'] = True
                for value, identity in sorted(scan['alive'].items()):
                    host = self._host_record(str(ipaddress.IPv4Address(value)), 'IP')
                    host['last_vuln_scan'] = iso(scan['start_at'])
                    host['last_vm_scanned_duration'] = str(int(scan['finish_at'] - scan['start_at']))
                    for key in ('dns', 'netbios', 'os'):
                        if identity.get(key):
                            host[key] = identity[key]

    def _alive_targets(self, scan):
        alive = {}
        for start, end in scan['targets']:
            for value in range(start, end + 1):
                address = ipaddress.IPv4Address(value)
                if scan['external'] and any(address in net for net in PRIVATE_NETS):
                    continue    # external scanners cannot reach internal laptops
                if self.alive is None:
                    alive[value] = {}
                elif value in self.alive:
                    alive[value] = self.alive[value]
        return alive

    def _host_record(self, ip, tracking):
        host = self.hosts.get(ip)
        if host is None:
            self.next_host_id += 1
            host = {'id': str(self.next_host_id), 'ip': ip, 'tracking_method': tracking}
            self.hosts[ip] = host
        return host

    def scan_view(self, scan):
        now = self.now()
        state = self.scan_state(scan, now)
        sub_state = None
        if state == 'Finished' and scan['alive'] == {}:
            sub_state = 'No_Host'
        duration = 0 if state == 'Queued' else min(now, scan['finish_at']) - scan['start_at']
        return {
            'ref': scan['ref'], 'id': scan['id'], 'type': 'API', 'title': scan['title'],
            'user_login': scan['user_login'], 'launched': iso(scan['launched_at']), 'duration': hms(duration),
            'priority': '%d - %s' % (scan['priority'], PRIORITIES[scan['priority']]),
            'processed': '1' if now >= scan['processed_at'] else '0', 'state': state, 'sub_state': sub_state,
            'target': format_ip_list(scan['targets']), 'scanner': scan['scanner'],
        }

    # -- API request handling ------------------------------------------------------------

    def handle(self, method, path, query, body, headers):
        """Route one API request; returns a Response (maybe marked drop/delay)."""
        route_path = path.split('?', 1)[0]
        if route_path not in API_PATHS:
            if route_path + '/' in API_PATHS:
                location = self.base_url + route_path + '/' + ('?' + query if query else '')
                return Response(301, render.html_page(301, '301 Moved Permanently',
                                                      'The document has moved to %s.' % location),
                                'text/html; charset=iso-8859-1', {'Location': location})
            return Response(404, render.html_page(404, '404 Not Found', 'The requested URL was not found.'),
                            'text/html; charset=iso-8859-1')
        resource, version = API_PATHS[route_path]
        params = dict(parse_qsl(query, keep_blank_values=True))
        if method == 'POST' and body:
            params.update(parse_qsl(body.decode('utf-8', 'replace'), keep_blank_values=True))
        action = params.get('action')
        api = '%s:%s' % (resource, action) if action in ACTIONS[resource] else resource + ':?'
        entry = {'seq': len(self.calls) + 1, 'at': None, 'method': method, 'path': route_path, 'version': version,
                 'api': api, 'params': params, 'query': query, 'status': None, 'code': None, 'fault': None}
        with self.lock:
            self.tick()
            entry['at'] = iso(self.now())
            self.calls.append(entry)
            fault = self._take_fault(api)
            if fault:
                entry['fault'] = fault['kind']
                injected = self._fault_response(fault, api)
                if injected is not None:
                    return self._finish(entry, injected)
            user = self._authenticated_user(headers)
            if user is None:
                return self._finish(entry, self._error(401, '2000', 'Bad Login/Password'))
            entry['user'] = user
            if not headers.get('X-Requested-With'):
                # Real answer UNCONFIRMED (reference 1.1); the simulator is strict and refuses.
                return self._finish(entry, self._error(
                    400, '1903', 'Missing required parameter(s): X-Requested-With header'))
            limits = self._limits(api)
            running = self.running[api] + 1
            to_finish = running - limits['concurrency']
            if to_finish > 0:
                verb = 'instance has' if to_finish == 1 else 'instances have'
                blocked = self._error(409, '1960', 'This API cannot be run again until %d currently running %s '
                                      'finished.' % (to_finish, verb), items=[('CALLS_TO_FINISH', to_finish)])
                blocked.headers.update({'X-Concurrency-Limit-Limit': str(limits['concurrency']),
                                        'X-Concurrency-Limit-Running': str(running)})
                return self._finish(entry, blocked)
            window = self._window(api, limits)
            if len(window) >= limits['limit']:
                to_wait = max(1, int(math.ceil(window[0] + limits['window_sec'] - self.now())))
                blocked = self._error(409, '1965', 'This API cannot be run again for another %s.'
                                      % _wait_words(to_wait), items=[('SECONDS_TO_WAIT', to_wait)])
                blocked.headers.update(self._rate_headers(limits, 0, to_wait, running))
                return self._finish(entry, blocked)
            window.append(self.now())
            self.running[api] += 1
            rate_headers = self._rate_headers(limits, limits['limit'] - len(window), 0, running)
        try:
            if fault and fault['kind'] == 'slow':
                time.sleep(float(fault.get('seconds', 5)))
            with self.lock:
                self.tick()
                try:
                    response = self._dispatch(api, method, version, params, user)
                except ApiError as exc:
                    response = self._error(exc.status, exc.code, exc.text, exc.items)
                response.headers.update(rate_headers)
                if fault and fault['kind'] == 'drop_response':
                    response.drop = True
                return self._finish(entry, response)
        finally:
            with self.lock:
                self.running[api] -= 1

    def _finish(self, entry, response):
        entry['status'] = 'dropped' if response.drop else response.status
        entry['code'] = response.code
        return response

    def _take_fault(self, api):
        for fault in self.faults:
            if fault['count'] > 0 and fault['api'] in ('*', api):
                fault['count'] -= 1
                if fault['count'] == 0:
                    self.faults.remove(fault)
                return fault
        return None

    def _fault_response(self, fault, api):
        kind = fault['kind']
        if kind == 'http_500':
            return Response(500, render.html_page(500, '500 Internal Server Error', 'Internal Server Error'),
                            'text/html; charset=iso-8859-1')
        if kind == 'http_503_html':
            return Response(503, render.MAINTENANCE_PAGE, 'text/html; charset=UTF-8')
        if kind == 'malformed_xml':
            return Response(200, render.MALFORMED_XML)
        if kind == 'xml_bomb':
            return Response(200, render.XML_BOMB)
        if kind == 'error_in_200':
            return self._error(200, str(fault.get('code', '2001')), fault.get('text', 'This account has expired.'))
        if kind == 'rate_409':
            limits = self._limits(api)
            to_wait = int(fault.get('to_wait', 60))
            blocked = self._error(409, '1965', 'This API cannot be run again for another %s.' % _wait_words(to_wait),
                                  items=[('SECONDS_TO_WAIT', to_wait)])
            headers = self._rate_headers(limits, 0, to_wait, self.running[api] + 1)
            if not fault.get('header', True):
                del headers['X-Ratelimit-Towait-Sec']
            blocked.headers.update(headers)
            return blocked
        if kind == 'concurrency_409':
            limits = self._limits(api)
            blocked = self._error(409, '1960', 'This API cannot be run again until 1 currently running instance '
                                  'has finished.', items=[('CALLS_TO_FINISH', 1)])
            blocked.headers.update({'X-Concurrency-Limit-Limit': str(limits['concurrency']),
                                    'X-Concurrency-Limit-Running': str(limits['concurrency'] + 1)})
            return blocked
        return None     # slow / drop_response wrap the normal answer

    def _authenticated_user(self, headers):
        value = headers.get('Authorization') or ''
        if not value.startswith('Basic '):
            return None
        try:
            user, dummy, password = base64.b64decode(value[6:]).decode('latin-1').partition(':')
        except ValueError:
            return None
        return user if (user, password) == (self.username, self.password) else None

    def _limits(self, api):
        return self.config['limits'].get(api) or self.config['limits']['*']

    def _window(self, api, limits):
        window = self.accepted[api]
        while window and window[0] <= self.now() - limits['window_sec']:
            window.popleft()
        return window

    @staticmethod
    def _rate_headers(limits, remaining, to_wait, running):
        # Spelled as in the recorded captures: clients must read headers case-insensitively.
        return {'X-Ratelimit-Limit': str(limits['limit']), 'X-Ratelimit-Window-Sec': str(limits['window_sec']),
                'X-Ratelimit-Remaining': str(max(remaining, 0)), 'X-Ratelimit-Towait-Sec': str(to_wait),
                'X-Concurrency-Limit-Limit': str(limits['concurrency']),
                'X-Concurrency-Limit-Running': str(running)}

    def _error(self, status, code, text, items=None):
        response = Response(status, render.simple_return(self.base_url, iso(self.now()), text, code=code,
                                                         items=items))
        response.code = code
        return response

    # -- endpoints -----------------------------------------------------------------------

    def _dispatch(self, api, method, version, params, user):
        if 'action' not in params:
            raise ApiError(400, '1903', 'Missing required parameter(s): action')
        if api.endswith(':?'):
            raise ApiError(400, '1905', 'parameter action has invalid value: %s' % params['action'])
        unknown = sorted(set(params) - PARAMETERS[api])
        if unknown:
            raise ApiError(400, '1901', 'Unrecognized parameter(s): %s' % ', '.join(unknown))
        if api == 'scan:launch':
            if method != 'POST':
                raise ApiError(400, '1908', 'Request method (GET or POST) is incompatible with specified '
                               'parameter(s): action=launch')
            return self._launch(params, user)
        if api == 'scan:list':
            return self._list_scans(version, params)
        if api == 'scan:fetch':
            return self._fetch(params)
        if api == 'scan:cancel':
            return self._cancel(params)
        return self._list_hosts(version, params)

    @staticmethod
    def _exclusive(params, names, required=True):
        # default_scanner / scanners_in_ag are flags: "0" means not chosen.
        given = [n for n in names if params.get(n) not in (None, '') and params[n] != '0']
        if len(given) > 1:
            raise ApiError(400, '1904', 'Please specify only one of these parameters: %s' % ', '.join(names))
        if required and not given:
            raise ApiError(400, '1903', 'Missing required parameter(s): %s' % ' or '.join(names))
        return given[0] if given else None

    def _launch(self, params, user):
        profile_param = self._exclusive(params, ('option_title', 'option_id'))
        profiles = self.config['option_profiles']
        profile = params[profile_param]
        if (profile_param == 'option_id' and profile not in profiles) or (
                profile_param == 'option_title' and profile not in profiles.values()):
            raise ApiError(400, '1905', 'parameter %s has invalid value: %s' % (profile_param, profile))
        if not params.get('ip'):
            raise ApiError(400, '1922', 'Please specify at least one of the following parameters: ip, '
                           'asset_groups, asset_group_ids, fqdn')
        try:
            targets = parse_ip_list(params['ip'])
        except ValueError:
            raise ApiError(400, '1905', 'parameter ip has invalid value: %s' % params['ip'][:200]) from None
        subscription = parse_ip_list(self.config['subscription'])
        if not targets or not all(in_intervals(s, subscription) and in_intervals(e, subscription)
                                  for s, e in targets):
            raise ApiError(400, '1905', 'parameter ip has invalid value: none of the specified IPs are eligible '
                           'for Vulnerability Management scanning or some IPs are not in your subscription')
        scanner_param = self._exclusive(params, ('iscanner_name', 'iscanner_id', 'default_scanner',
                                                 'scanners_in_ag'), required=False)
        scanner = 'External'
        if scanner_param == 'iscanner_name':
            names = [n.strip() for n in params['iscanner_name'].split(',')]
            if names != ['External'] and not set(names) <= set(self.config['scanners'].values()):
                raise ApiError(400, '1905', 'parameter iscanner_name has invalid value: %s' % params['iscanner_name'])
            scanner = ', '.join(names)
        elif scanner_param == 'iscanner_id':
            ids = [n.strip() for n in params['iscanner_id'].split(',')]
            if not set(ids) <= set(self.config['scanners']):
                raise ApiError(400, '1905', 'parameter iscanner_id has invalid value: %s' % params['iscanner_id'])
            scanner = ', '.join(self.config['scanners'][i] for i in ids)
        elif scanner_param:
            scanner = sorted(self.config['scanners'].values())[0]
        priority = params.get('priority', '0')
        if priority not in [str(p) for p in range(10)]:
            raise ApiError(400, '1905', 'parameter priority has invalid value: %s' % priority)
        title = params.get('scan_title', 'N/A') or 'N/A'
        if len(title) > 2000:
            raise ApiError(400, '1905', 'parameter scan_title has invalid value: longer than 2000 characters')
        now = self.now()
        self.next_scan_id += 1
        scan_id = self.next_scan_id
        queued = self.config['queue_seconds']
        scan = {
            'id': scan_id, 'ref': 'scan/%d.%05d' % (int(now), scan_id % 100000), 'title': title,
            'user_login': user, 'launched_at': now, 'targets': targets, 'priority': int(priority),
            'scanner': scanner, 'external': scanner == 'External', 'start_at': now + queued,
            'finish_at': now + queued + self.config['scan_seconds'],
            'processed_at': now + queued + self.config['scan_seconds'] + self.config['process_seconds'],
            'alive': None, 'host_update_done': False,
        }
        self.scans.append(scan)
        return Response(200, render.simple_return(self.base_url, iso(now), 'New vm scan launched',
                                                  items=[('ID', scan_id), ('REFERENCE', scan['ref'])]))

    def _list_scans(self, version, params):
        now = self.now()
        views = [self.scan_view(s) for s in self.scans]
        if 'scan_ref' in params:
            views = [v for v in views if v['ref'] == params['scan_ref']]
        elif 'launched_after_datetime' not in params:
            views = [v for v in views if parse_iso(v['launched']) >= now - 30 * 86400]   # documented default
        try:
            if 'launched_after_datetime' in params:
                after = parse_iso(params['launched_after_datetime'])
                views = [v for v in views if parse_iso(v['launched']) >= after]
            if 'launched_before_datetime' in params:
                before = parse_iso(params['launched_before_datetime'])
                views = [v for v in views if parse_iso(v['launched']) <= before]
        except ValueError:
            raise ApiError(400, '1905', 'parameter launched_after_datetime/launched_before_datetime has invalid '
                           'value') from None
        if 'state' in params:
            states = [s.strip() for s in params['state'].split(',')]
            bad = [s for s in states if s not in SCAN_STATES]
            if bad:
                raise ApiError(400, '1905', 'parameter state has invalid value: %s' % ', '.join(bad))
            views = [v for v in views if v['state'] in states]
        if 'processed' in params:
            views = [v for v in views if v['processed'] == params['processed']]
        if 'type' in params:
            views = [v for v in views if v['type'] == params['type']]
        if 'user_login' in params:
            views = [v for v in views if v['user_login'] == params['user_login']]
        if 'target' in params:
            wanted = parse_ip_list(params['target'])
            views = [v for v in views if any(in_intervals(s, parse_ip_list(v['target'])) for s, dummy in wanted)]
        views.sort(key=lambda v: v['launched'], reverse=True)
        if params.get('show_last') == '1':
            views = views[:1]
        return Response(200, render.scan_list(self.base_url, version, iso(now), views))

    def _scan_by_ref(self, params):
        if not params.get('scan_ref'):
            raise ApiError(400, '1903', 'Missing required parameter(s): scan_ref')
        for scan in self.scans:
            if scan['ref'] == params['scan_ref']:
                return scan
        raise ApiError(400, '1905', 'parameter scan_ref has invalid value: %s' % params['scan_ref'])

    def _cancel(self, params):
        scan = self._scan_by_ref(params)
        if self.scan_state(scan, self.now()) not in ('Queued', 'Running'):
            raise ApiError(400, '1905', 'parameter scan_ref has invalid value: %s (scan is not running)'
                           % scan['ref'])
        self.scan_action(scan['ref'], 'cancel')
        return Response(200, render.simple_return(self.base_url, iso(self.now()), 'Cancelling scan'))

    def _fetch(self, params):
        scan = self._scan_by_ref(params)
        if params.get('output_format', 'csv') not in ('json', 'json_extended'):
            raise ApiError(400, '1905', 'parameter output_format has invalid value: %s (the simulator serves '
                           'json and json_extended only)' % params.get('output_format', 'csv'))
        if params.get('mode', 'brief') not in ('brief', 'extended'):
            raise ApiError(400, '1905', 'parameter mode has invalid value: %s' % params['mode'])
        view = self.scan_view(scan)
        if view['state'] != 'Finished':
            # Real wording UNCONFIRMED; results exist only once a scan has finished.
            raise ApiError(400, '1905', 'parameter scan_ref has invalid value: %s (scan is %s, no results yet)'
                           % (scan['ref'], view['state']))
        wanted = parse_ip_list(params['ips']) if params.get('ips') else None
        alive = sorted(scan['alive'])
        dead = [v for s, e in scan['targets'] for v in range(s, e + 1) if v not in scan['alive']]
        if wanted is not None:
            alive = [v for v in alive if in_intervals(v, wanted)]
            dead = [v for v in dead if in_intervals(v, wanted)]
        rows = [{
            'launch_date': view['launched'].replace('T', ' ').rstrip('Z'), 'active_hosts': str(len(alive)),
            'total_hosts': str(len(alive) + len(dead)), 'type': 'API', 'status': 'FINISHED',
            'reference': scan['ref'], 'scanner_appliance': scan['scanner'], 'duration': view['duration'],
            'scan_title': scan['title'], 'asset_groups': None, 'ips': view['target'], 'excluded_ips': '',
            'option_profile': 'Initial Options',
        }]
        for value in alive:
            identity = scan['alive'][value]
            rows.append({'ip': str(ipaddress.IPv4Address(value)), 'dns': identity.get('dns', ''),
                         'netbios': identity.get('netbios', ''), 'os': identity.get('os', ''),
                         'ip_status': 'host scanned, found vuln', 'qid': 6, 'title': 'DNS Host Name',
                         'severity': 1, 'port': '', 'protocol': '', 'fqdn': '', 'ssl': 'no'})
        rows.append({'target_distribution_across_scanner_appliances': '%s : %s' % (scan['scanner'], view['target'])})
        if dead:
            rows.append({'hosts_not_scanned_host_not_alive_ip': format_values(dead, sep=', ')})
        return Response(200, json.dumps(rows), 'application/json;charset=UTF-8')

    def _list_hosts(self, version, params):
        details = params.get('details', 'Basic')
        if details not in ('Basic', 'Basic/AGs', 'All', 'All/AGs', 'None'):
            raise ApiError(400, '1905', 'parameter details has invalid value: %s' % details)
        try:
            limit = int(params.get('truncation_limit', '1000'))
            id_min = int(params.get('id_min', '0'))
            id_max = int(params['id_max']) if 'id_max' in params else None
            wanted = parse_ip_list(params['ips']) if params.get('ips') else None
        except ValueError as exc:
            raise ApiError(400, '1905', 'invalid parameter value: %s' % exc) from None
        hosts = sorted(self.hosts.values(), key=lambda h: int(h['id']))
        hosts = [h for h in hosts if int(h['id']) >= id_min and (id_max is None or int(h['id']) <= id_max)]
        if wanted is not None:
            hosts = [h for h in hosts if in_intervals(int(ipaddress.IPv4Address(h['ip'])), wanted)]
        for name, keep_scanned in (('vm_scan_since', True), ('no_vm_scan_since', False)):
            if name in params:
                since = parse_iso(params[name])
                hosts = [h for h in hosts
                         if bool(h.get('last_vuln_scan') and parse_iso(h['last_vuln_scan']) >= since) == keep_scanned]
        next_url = None
        if limit and len(hosts) > limit:
            next_params = {k: v for k, v in params.items() if k != 'id_min'}
            next_params['id_min'] = str(int(hosts[limit]['id']))
            next_url = '%s/api/%s/fo/asset/host/?%s' % (self.base_url, version, urlencode(next_params))
            hosts = hosts[:limit]
        return Response(200, render.host_list(self.base_url, iso(self.now()), hosts, details == 'None', next_url,
                                              limit))


def _wait_words(seconds):
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = ['%d %s' % (n, unit + ('s' if n != 1 else '')) for n, unit in
             ((hours, 'hour'), (minutes, 'minute'), (secs, 'second')) if n]
    if not parts:
        return '0 seconds'
    return parts[0] if len(parts) == 1 else '%s and %s' % (', '.join(parts[:-1]), parts[-1])
