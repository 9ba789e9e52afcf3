# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Each stage action's run() with a real Task, a fake task_vars and an in-memory store."""
from __future__ import annotations

import copy
import importlib
from unittest.mock import MagicMock

import pytest

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play_context import PlayContext
from ansible.playbook.task import Task
from ansible.template import Templar

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import mac_from_host
from ansible_collections.roamscan.qualys.plugins.plugin_utils import _cycle_action
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import StoreWriteError, UnsafeFactCache
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_lock import LockHeld, LockLost
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, C, X, Y, lease, present

NOW = '2026-11-28T12:00:00Z'
SCAN = {'roamscan_option_profile': 'Laptop Light Scan', 'roamscan_scanner': ['laptop_scanner_1']}


class FakeStore:
    """The store API over a dict; remembers what each stage read and wrote."""

    name = 'fake'

    def __init__(self, records=None, corrupt=(), fail_writes=False):
        self.records = copy.deepcopy(records or {})
        self.corrupt = list(corrupt)
        self.fail_writes = fail_writes
        self.reads = []
        self.saved = {}
        self.entries = {}

    def get(self, macs):
        self.reads.append(('get', sorted(macs)))
        return copy.deepcopy({mac: self.records[mac] for mac in macs if mac in self.records})

    def working_set(self):
        self.reads.append(('working_set',))
        return copy.deepcopy({mac: r for mac, r in self.records.items() if r['lease_state'] == 'active' or r['pending']})

    def holders(self, ips):
        return {r['ip']: mac for mac, r in self.records.items() if r['lease_state'] == 'active' and r['ip'] in ips}

    def holder_keys(self, ips):
        return set(self.holders(ips).values())

    def unreadable(self):
        return {mac_from_host(item['host']) for item in self.corrupt}

    def all(self, snapshot=False, refresh=True):
        self.reads.append(('all', snapshot, refresh) if snapshot else ('all',))
        return copy.deepcopy(self.records)

    def digests(self):
        self.reads.append(('digests',))
        return copy.deepcopy(self.records)

    def linking(self, identities):
        self.reads.append(('linking', sorted(identities)))
        return copy.deepcopy({key: record for key, record in self.records.items()
                              if set(identities) & {link['identity'] for link in record.get('links') or ()}})

    def read_entry(self, key):
        return copy.deepcopy(self.entries.get(key))

    def write_entry(self, key, value, fenced=False):
        self.entries[key] = copy.deepcopy(value)
        self.fenced_writes = getattr(self, 'fenced_writes', []) + [key] * fenced

    # the cycle lease: held by ``holder`` (None: free); renewals and releases are remembered
    holder = None
    renewed = ()

    def take_lease(self, seconds, owner):
        if self.holder is not None:
            raise LockHeld(self.holder, 'fake')
        self.holder = {'token': 1, 'owner': owner, 'host': 'here', 'pid': 1, 'since': 0.0, 'expires': seconds}
        return self.holder

    def renew_lease(self, holding):
        self.renewed = list(self.renewed) + [holding]
        if holding is not None and holding != self.holder:
            raise LockLost('lost the fake lease')
        return holding

    def release_lease(self, holding):
        released, self.holder = holding is not None and holding == self.holder, None
        return released

    def save(self, records, macs):
        if self.fail_writes:
            raise StoreWriteError('write to fake failed')
        for mac in macs:
            self.saved[mac] = self.records[mac] = copy.deepcopy(records[mac])
        return len(macs)


@pytest.fixture
def store(monkeypatch):
    holder = {'store': FakeStore()}

    def fake_open(settings=None, require_durable=True, read_only=False):
        holder['settings'] = settings
        if holder.get('refuse'):
            raise UnsafeFactCache(holder['refuse'])
        return holder['store']
    monkeypatch.setattr(_cycle_action, 'open_store', fake_open)
    monkeypatch.setattr(_cycle_action, 'time_now', lambda: NOW)
    return holder


def run_action(name, args=None, task_vars=None, check_mode=False, diff=False):
    module = importlib.import_module('ansible_collections.roamscan.qualys.plugins.action.%s' % name)
    task = Task()
    task.args = args or {}
    task.check_mode = check_mode
    task.diff = diff
    loader = DataLoader()
    connection = MagicMock()
    connection._shell.tmpdir = '/nonexistent'   # the actions never need one; ActionBase asks
    action = module.ActionModule(task, connection=connection, play_context=PlayContext(), loader=loader,
                                 templar=Templar(loader=loader), shared_loader_obj=None)
    return action.run(task_vars=dict(task_vars or {}))


def lease_report(*rows, cursor='cursor-1'):
    return {'now': NOW, 'events': [], 'cursor': cursor, 'changed': False, 'source': 'kea', 'spool_dir': '/var/spool/roamscan',
            'table_path': None,
            'leases': [lease(mac, ip, '2026-11-28T13:00:00Z') for mac, ip in rows]}


def cycle_vars(**servers):
    variables = dict(SCAN, groups={'dhcp_servers': sorted(servers)},
                     hostvars={name: {'roamscan_collected': result} for name, result in servers.items()})
    return variables


def fresh_vars(base=None, **servers):
    """Task variables of verify: each DHCP server's re-read lease table registered as roamscan_fresh."""
    return dict(base or SCAN, groups={'dhcp_servers': sorted(servers)},
                hostvars={name: {'roamscan_fresh': result} for name, result in servers.items()})


def test_check_refuses_bad_scan_settings_before_anything_is_read(store):
    result = run_action('cycle_check', task_vars={'roamscan_option_profile': 'p', 'groups': {}})
    assert result['failed'] and 'no scanner selector' in result['msg']
    assert store['store'].reads == []


@pytest.fixture
def qualys_environment(monkeypatch):
    for name, value in (('QUALYS_API_URL', 'https://qualysapi.example.net'), ('QUALYS_USERNAME', 'roamscan_api'),
                        ('QUALYS_PASSWORD', 'secret')):
        monkeypatch.setenv(name, value)


def test_check_reports_an_unsafe_store_and_returns_the_dhcp_servers(store, qualys_environment):
    result = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1', 'dhcp2']}))
    assert not result.get('failed') and result['dhcp_servers'] == ['dhcp1', 'dhcp2'] and result['fact_cache'] == 'fake'
    store['refuse'] = 'The fact cache is memory'
    result = run_action('cycle_check', task_vars=dict(SCAN, roamscan_fact_cache={'plugin': 'memory'}))
    assert result['failed'] and 'memory' in result['msg'] and store['settings']['plugin'] == 'memory'


def test_check_takes_the_lease_and_a_held_one_skips_or_fails_the_cycle(store, qualys_environment):
    result = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}))
    assert result['lock']['token'] == 1 and result['held_elsewhere'] is None and result['dhcp_servers'] == ['dhcp1']
    skipped = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}))
    assert not skipped.get('failed') and skipped['lock'] is None and skipped['dhcp_servers'] == []
    assert skipped['held_elsewhere']['msg'].startswith('another cycle is running on here (pid 1) since 1970-01-01T00:00:00Z')
    failed = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}, roamscan_when_locked='fail'))
    assert failed['failed'] and 'another cycle is running on here' in failed['msg'] and 'roamscan_when_locked is fail' in failed['msg']


def test_check_in_check_mode_takes_no_lease(store, qualys_environment):
    result = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}), check_mode=True)
    assert result['lock'] is None and store['store'].holder is None


def test_a_stage_renews_the_lease_of_its_cycle_and_stops_when_it_was_lost(store, qualys_environment):
    holding = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}))['lock']
    task_vars = cycle_vars(dhcp1=lease_report((A, X)))
    task_vars['roamscan_checked'] = {'lock': holding}
    assert run_action('cycle_remember', task_vars=task_vars)['stored'] == 1 and store['store'].renewed == [holding]
    task_vars['roamscan_checked'] = {'lock': dict(holding, token=0)}   # taken over by a later cycle
    lost = run_action('cycle_remember', task_vars=task_vars)
    assert lost['failed'] and 'lost the fake lease' in lost['msg']


@pytest.mark.parametrize('groups, state', [({}, 'is not in the inventory'), ({'dhcp_servers': []}, 'has no hosts')])
def test_check_refuses_a_missing_or_empty_dhcp_group_naming_the_variable(store, qualys_environment, groups, state):
    groups = dict(groups, all=['localhost'], dhcp=['dhcp1'])
    result = run_action('cycle_check', task_vars=dict(SCAN, groups=groups))
    assert result['failed'] and "group 'dhcp_servers' (roamscan_dhcp_group) %s" % state in result['msg']
    assert result['msg'].endswith('groups in this inventory: %s' % ', '.join(sorted(set(groups) - {'all'})))


def test_check_names_every_presence_group_and_takes_a_cycle_of_domain_controllers_or_log_sources_alone(store, qualys_environment):
    refused = run_action('cycle_check', task_vars=dict(SCAN, groups={'all': ['localhost']}))
    for group, variable in (('vpn_servers', 'roamscan_vpn_group'), ('domain_controllers', 'roamscan_dc_group'),
                            ('neighbor_sources', 'roamscan_neighbor_group'), ('presence_receivers', 'roamscan_receiver_group'),
                            ('vpn_log_collectors', 'roamscan_vpn_log_group')):
        assert "'%s' (%s)" % (group, variable) in refused['msg']
    groups = {'domain_controllers': ['dc1'], 'presence_receivers': ['nac1'], 'vpn_log_collectors': ['syslog1', 'dc1']}
    checked = run_action('cycle_check', task_vars=dict(SCAN, groups=groups))
    assert not checked.get('failed'), checked
    assert checked['presence_hosts'] == ['dc1', 'nac1', 'syslog1'] and checked['dhcp_servers'] == []
    assert (checked['domain_controllers'], checked['presence_receivers'], checked['vpn_log_collectors']) == (
        ['dc1'], ['nac1'], ['syslog1', 'dc1'])


@pytest.mark.parametrize('unset, named', [
    ('QUALYS_PASSWORD', 'set QUALYS_PASSWORD in'),
    ('QUALYS_API_URL', 'set QUALYS_API_URL (or QUALYS_PLATFORM) in'),
])
def test_check_names_the_qualys_environment_variable_that_is_unset(store, qualys_environment, monkeypatch, unset, named):
    monkeypatch.delenv(unset)
    result = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}))
    assert result['failed'] and named in result['msg'] and 'roamscan_qualys_connection' in result['msg']
    connection = {'api_url': 'https://qualysapi.example.net', 'password': 'secret'}
    result = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}, roamscan_qualys_connection=connection))
    assert not result.get('failed')


def test_check_refuses_a_controller_without_requests_naming_how_to_install_it(store, qualys_environment, monkeypatch):
    real_import = importlib.import_module

    def without_requests(name, *args):
        if name == 'requests':
            raise ImportError('No module named requests')
        return real_import(name, *args)
    monkeypatch.setattr(importlib, 'import_module', without_requests)
    result = run_action('cycle_check', task_vars=dict(SCAN, groups={'dhcp_servers': ['dhcp1']}))
    assert result['failed'] and 'the Python package requests cannot be imported' in result['msg']
    assert '-m pip install requests' in result['msg'] and store['store'].reads == [] and 'settings' not in store


def test_remember_reads_the_servers_results_from_hostvars_and_acknowledges_what_was_stored(store):
    task_vars = cycle_vars(dhcp1=lease_report((A, X)), dhcp2={'failed': True, 'msg': 'lease file unreadable'})
    task_vars['groups']['dhcp_servers'].append('dhcp3')    # in the group, never reached
    result = run_action('cycle_remember', task_vars=task_vars)
    assert result['servers'] == ['dhcp1'] and result['stored'] == 1 and result['changed']
    assert result['acknowledge'] == [{'host': 'dhcp1', 'source': 'kea', 'spool_dir': '/var/spool/roamscan', 'cursor': 'cursor-1'}]
    assert result['live_tables'] == [{'host': 'dhcp1', 'source': 'kea', 'table_path': None}]
    assert result['not_reported'] == {'dhcp2': 'lease file unreadable',
                                      'dhcp3': 'no result (the host was not reached)'}
    assert store['store'].records[A]['dhcp_server'] == 'dhcp1'
    assert ('all',) not in store['store'].reads


def test_remember_in_check_mode_writes_nothing_and_acknowledges_nothing(store):
    result = run_action('cycle_remember', task_vars=cycle_vars(dhcp1=lease_report((A, X))), check_mode=True)
    assert result['updated'] == 1 and result['stored'] == 0 and result['acknowledge'] == []
    assert store['store'].records == {}


def test_in_check_mode_each_stage_sees_what_the_earlier_ones_would_have_written(store):
    remembered = run_action('cycle_remember', task_vars=cycle_vars(dhcp1=lease_report((A, X))), check_mode=True)
    assert list(remembered['would_store']) == [A] and store['store'].records == {}
    decided = run_action('cycle_decide', {'last_scanned': {'skipped': True}}, task_vars=dict(SCAN, roamscan_remembered=remembered),
                         check_mode=True)
    assert [target['mac'] for target in decided['plan']['targets']] == [A] and list(decided['would_store']) == [A]
    assert run_action('cycle_decide', {'last_scanned': {'skipped': True}}, task_vars=SCAN, check_mode=True)['plan']['targets'] == []
    assert store['store'].saved == {}


def test_remember_acknowledges_nothing_when_the_write_fails(store):
    store['store'] = FakeStore(fail_writes=True)
    result = run_action('cycle_remember', task_vars=cycle_vars(dhcp1=lease_report((A, X))))
    assert result['failed'] and 'write to fake failed' in result['msg'] and 'acknowledge' not in result


def test_remember_never_overwrites_a_corrupt_entry(store):
    store['store'] = FakeStore(corrupt=[{'host': 'mac-027700000a01', 'error': 'invalid roamscan record: unknown record schema 99'}])
    result = run_action('cycle_remember', task_vars=cycle_vars(dhcp1=lease_report((A, X), (B, Y))))
    assert set(store['store'].saved) == {B}
    assert any('mac-027700000a01' in warning for warning in result['warnings'])


def test_remember_reports_corrupt_spool_lines_per_server(store):
    torn = dict(lease_report((B, Y)), skipped_lines={'count': 2, 'reasons': {'truncated': 1, 'bad_mac': 1}})
    result = run_action('cycle_remember', task_vars=cycle_vars(dhcp1=lease_report((A, X)), dhcp2=torn))
    assert result['corrupt_spool_lines'] == {'dhcp2': {'count': 2, 'reasons': {'truncated': 1, 'bad_mac': 1}}}
    assert set(store['store'].records) == {A, B}
    assert any('dhcp2: presence_events skipped 2 corrupt spool line(s) (bad_mac: 1, truncated: 1)' in w for w in result['warnings'])


def logon_report(*logons, cursor='logon-cursor-1'):
    """A logon_events result: (kind, account, ip, time) per successful logon."""
    return {'now': NOW, 'cursor': cursor, 'changed': False, 'observations': [
        {'id': 'l%d' % index, 'source': {'kind': 'samba', 'host': 'dc1'}, 'event': 'seen', 'why': 'kerberos',
         'identity': {'kind': kind, 'value': account}, 'ip': ip, 'time': moment, 'until': None, 'aliases': {},
         'hostname': None, 'authority': 'log'} for index, (kind, account, ip, moment) in enumerate(logons)]}


def neighbor_report(*entries):
    """A neighbor_table result: (mac, ip, time) per confirmed entry."""
    return {'changed': False, 'now': NOW, 'observations': [
        {'id': None, 'source': {'kind': 'neighbor', 'host': 'router1'}, 'event': 'seen', 'why': 'reachable',
         'identity': {'kind': 'mac', 'value': mac}, 'ip': ip, 'time': moment, 'until': None, 'aliases': {'dev': 'br0'},
         'hostname': None, 'authority': 'log'} for mac, ip, moment in entries]}


def with_sources(task_vars, group, variable, **hosts):
    task_vars['groups'][group] = sorted(hosts)
    for name, result in hosts.items():
        task_vars['hostvars'].setdefault(name, {})[variable] = result
    return task_vars


def test_remember_links_a_machine_logon_at_the_ip_a_mac_held_and_acknowledges_the_dc_once_stored(store):
    store['store'] = FakeStore({A: present(A, X), B: present(B, Y)})
    task_vars = with_sources(cycle_vars(dhcp1=lease_report((A, X), (B, Y))), 'domain_controllers', 'roamscan_collected_logons',
                             dc1=logon_report(('ad_machine', 'LAPTOP01$', X, '2026-11-28T11:30:00Z'),
                                              ('ad_user', 'alice', Y, '2026-11-28T11:30:00Z'),         # a user links nothing
                                              ('ad_machine', 'LAPTOP02$', Y, '2026-11-28T10:00:00Z')))  # before B held Y
    task_vars['groups']['domain_controllers'].append('dc2')   # never reached: a warning, the cycle goes on
    result = run_action('cycle_remember', task_vars=task_vars)
    assert not result.get('failed'), result
    assert result['linked'] == {A: ['ad_machine:LAPTOP01$']}
    assert [link['identity'] for link in store['store'].records[A]['links']] == ['ad_machine:LAPTOP01$']
    assert not store['store'].records[B].get('links')
    assert result['acknowledge_logons'] == [{'host': 'dc1', 'source': None, 'spool_dir': None, 'cursor': 'logon-cursor-1'}]
    assert result['logon_sources'] == ['dc1']
    assert result['logon_sources_not_reported'] == {'dc2': 'no result (the host was not reached)'}
    assert any('Domain controller dc2 did not report' in warning for warning in result['warnings'])
    checked = run_action('cycle_remember', task_vars=task_vars, check_mode=True)
    assert checked['acknowledge_logons'] == [] and checked['linked'] == {A: ['ad_machine:LAPTOP01$']}


def test_remember_sorts_each_kind_a_host_registered_and_a_failed_logon_read_never_fails_the_dhcp_presence(store):
    # dhcp1 is a DHCP server and a domain controller: its logon read failed, its leases were read
    task_vars = with_sources(cycle_vars(dhcp1=lease_report((A, X))), 'domain_controllers', 'roamscan_collected_logons',
                             dhcp1={'failed': True, 'msg': 'audit log unreadable'})
    task_vars['hostvars']['dhcp1']['roamscan_collected_neighbors'] = {'skipped': True}
    result = run_action('cycle_remember', task_vars=task_vars)
    assert not result.get('failed'), result
    assert result['servers'] == ['dhcp1'] and result['not_reported'] == {}
    assert result['logon_sources'] == [] and result['logon_sources_not_reported'] == {'dhcp1': 'audit log unreadable'}
    assert result['neighbor_sources_not_reported'] == {} and result['acknowledge_logons'] == []
    assert [item['host'] for item in result['acknowledge']] == ['dhcp1'] and store['store'].records[A]['ip'] == X


def test_remember_lets_the_neighbour_tables_refresh_a_holder_and_end_a_holding_another_mac_answers_for(store):
    store['store'] = FakeStore({A: present(A, X), B: present(B, Y)})
    task_vars = with_sources(cycle_vars(), 'neighbor_sources', 'roamscan_collected_neighbors',
                             router1=neighbor_report((A, X, '2026-11-28T11:58:00Z'), (C, Y, '2026-11-28T11:57:00Z'),
                                                     (B, Y, '2026-11-28T10:00:00Z')))   # B before its holding: nothing
    result = run_action('cycle_remember', task_vars=task_vars)
    assert result['neighbor_refreshed'] == [A] and result['neighbor_sources'] == ['router1']
    assert result['neighbor_ended'] == [{'mac': B, 'ip': Y, 'seen_mac': C, 'time': '2026-11-28T11:57:00Z'}]
    records = store['store'].records
    assert records[A]['last_seen'] == '2026-11-28T11:58:00Z' and records[A]['lease_state'] == 'active'
    assert records[B]['lease_state'] == 'reassigned' and records[B]['ip_history'][-1]['to'] == '2026-11-28T11:55:00Z'
    # the next cycle's lease table still lists B's lease: it does not reopen the holding the sighting ended
    again = run_action('cycle_remember', task_vars=cycle_vars(dhcp1=lease_report((B, Y))))
    assert not again.get('failed') and store['store'].records[B]['lease_state'] == 'reassigned'


def test_confirm_credits_from_the_registered_status_and_offers_the_host_list_lookup(store):
    credited = present(A, X, since='2026-11-28T09:00:00Z')
    credited['pending'] = {'scan_ref': 'scan/1.1', 'ip': X, 'launched_at': '2026-11-28T10:00:00Z', 'title': 't'}
    store['store'] = FakeStore({A: credited, B: present(B, Y)})
    status = {'changed': False, 'scans': [{'ref': 'scan/1.1', 'state': 'Finished', 'done': True, 'processed': True,
                                           'launched': '2026-11-28T10:00:10Z', 'scanned': [X], 'not_scanned': []}]}
    result = run_action('cycle_confirm', {'scan_status': status}, task_vars=SCAN)
    assert [item['mac'] for item in result['confirmed']['credited']] == [A]
    assert store['store'].records[A]['last_scan_ref'] == 'scan/1.1'
    assert [item['mac'] for item in result['host_list_lookup']] == [B] and result['rescan_days'] == 30
    skipped = run_action('cycle_confirm', {'scan_status': {'skipped': True}},
                         task_vars=dict(SCAN, roamscan_use_qualys_host_list=False))
    assert skipped['confirmed']['credited'] == [] and skipped['host_list_lookup'] == []


def test_decide_plans_with_settings_from_the_task_variables(store):
    store['store'] = FakeStore({A: present(A, X), B: present(B, Y, first_seen='2026-09-01T00:00:00Z')})
    result = run_action('cycle_decide', {'last_scanned': {'skipped': True}},
                        task_vars=dict(SCAN, roamscan_max_hosts_per_cycle=1, roamscan_scan_title_prefix='laptops'))
    assert result['plan']['title'] == 'laptops %s' % NOW and [t['mac'] for t in result['plan']['targets']] == [B]
    assert store['store'].reads == [('working_set',)]


def test_decide_takes_host_list_dates_by_the_one_rule(store):
    store['store'] = FakeStore({A: present(A, X, since='2026-11-28T09:00:00Z')})
    found = {'hosts': [{'ip': X, 'mac': A, 'source': 'qualys', 'last_scanned': '2026-11-28T09:30:00Z'}]}
    result = run_action('cycle_decide', {'last_scanned': found}, task_vars=SCAN)
    assert result['merged'] == [{'identity': A, 'mac': A, 'ip': X, 'last_scanned': '2026-11-28T09:30:00Z'}]
    assert result['plan']['targets'] == []


def test_verify_keeps_targets_still_held_by_the_same_mac_and_records_the_intent(store):
    store['store'] = FakeStore({A: present(A, X), B: present(B, Y)})
    plan = {'title': 'roamscan T', 'targets': [{'identity': A, 'mac': A, 'ip': X}, {'identity': B, 'mac': B, 'ip': Y}], 'held': None, 'resumed': False}
    result = run_action('cycle_verify', {'plan': plan}, task_vars=fresh_vars(dhcp1=lease_report((A, X), ('02:77:00:00:0c:03', Y))))
    assert result['launch']['targets'] == [{'identity': A, 'mac': A, 'ip': X}] and [d['mac'] for d in result['launch']['dropped']] == [B]
    assert store['store'].records[A]['pending'] == {'scan_ref': None, 'ip': X, 'launched_at': NOW, 'title': 'roamscan T'}
    assert result['launch_options'] == {'option_profile': 'Laptop Light Scan', 'scanner': ['laptop_scanner_1'],
                                        'default_scanner': False, 'scanners_in_ag': False, 'external_scanners': False}


def test_verify_gives_one_launch_per_scanner_route_group_with_its_scanner(store):
    vpn_ip = '10.91.0.12'
    store['store'] = FakeStore({A: present(A, X), B: present(B, vpn_ip)})
    plan = {'title': 'roamscan T', 'targets': [{'identity': A, 'mac': A, 'ip': X}, {'identity': B, 'mac': B, 'ip': vpn_ip}], 'resumed': False}
    variables = fresh_vars(dict(SCAN, roamscan_scanner_routes={'10.91.0.0/16': 'vpn_scanner'}), dhcp1=lease_report((A, X), (B, vpn_ip)))
    result = run_action('cycle_verify', {'plan': plan}, task_vars=variables)
    assert [(item['title'], item['targets'], item['options'].get('scanner'), item['resume']) for item in result['launches']] == [
        ('roamscan T', [{'identity': A, 'mac': A, 'ip': X}], ['laptop_scanner_1'], None),
        ('roamscan T via scanner vpn_scanner', [{'identity': B, 'mac': B, 'ip': vpn_ip}], ['vpn_scanner'], None)]
    assert store['store'].records[B]['pending']['title'] == 'roamscan T via scanner vpn_scanner'
    assert store['store'].records[A]['pending']['title'] == 'roamscan T'
    # resumed: each intent's own title, each launch looks for its scan since the first intent
    resumed = {'title': 'roamscan T', 'resumed': True, 'intended_at': NOW,
               'targets': [{'identity': A, 'mac': A, 'ip': X, 'title': 'roamscan T'},
                           {'identity': B, 'mac': B, 'ip': vpn_ip, 'title': 'roamscan T via scanner vpn_scanner'}]}
    result = run_action('cycle_verify', {'plan': resumed}, task_vars=variables)
    assert [item['resume'] for item in result['launches']] == [
        {'title': 'roamscan T', 'since': NOW}, {'title': 'roamscan T via scanner vpn_scanner', 'since': NOW}]
    assert [item['options']['scanner'] for item in result['launches']] == [['laptop_scanner_1'], ['vpn_scanner']]


def test_verify_refuses_to_record_an_intent_the_launch_would_refuse(store):
    store['store'] = FakeStore({A: present(A, X)})
    plan = {'title': 'roamscan T', 'targets': [{'identity': A, 'mac': A, 'ip': X}]}
    result = run_action('cycle_verify', {'plan': plan},
                        task_vars=fresh_vars(dict(SCAN, roamscan_default_scanner=True), dhcp1=lease_report((A, X))))
    assert result['failed'] and 'choose one scanner selector' in result['msg']
    assert store['store'].records[A]['pending'] is None


def test_decide_plans_the_liveness_probe_per_route_when_it_is_on(store):
    first, second = present(A, X), present(B, '10.20.0.5')
    first['dhcp_server'] = second['dhcp_server'] = 'dhcp1'
    store['store'] = FakeStore({A: first, B: second})
    variables = dict(SCAN, roamscan_liveness_probe=True, roamscan_probe_routes={'10.20.0.0/24': 'probe20'},
                     hostvars={'dhcp1': {'roamscan_probe_interface': 'br0'}, 'probe20': {}})
    plan = run_action('cycle_decide', {'last_scanned': {'skipped': True}}, task_vars=variables)['plan']
    assert plan['probes'] == [{'host': 'dhcp1', 'interface': 'br0', 'allow': ['%s/32' % X], 'targets': [{'ip': X, 'mac': A}]}]
    assert plan['unprobed'] == {'10.20.0.5': 'roamscan_probe_interface is not set for probe20'}
    off = run_action('cycle_decide', {'last_scanned': {'skipped': True}}, task_vars=SCAN)['plan']
    assert 'probes' not in off
    bad = run_action('cycle_decide', {'last_scanned': {'skipped': True}}, task_vars=dict(variables, roamscan_probe_routes={'x': 'y'}))
    assert bad['failed'] and 'roamscan_probe_routes' in bad['msg']


def test_verify_drops_what_the_probe_found_gone_or_answering_with_another_mac(store):
    third = '02:77:00:00:0c:03'
    store['store'] = FakeStore({A: present(A, X), B: present(B, Y), third: present(third, '10.77.0.102')})
    targets = [{'identity': A, 'mac': A, 'ip': X}, {'identity': B, 'mac': B, 'ip': Y}, {'identity': third, 'mac': third, 'ip': '10.77.0.102'}]
    probes = [{'host': 'dhcp1', 'interface': 'br0', 'allow': ['10.77.0.0/24'], 'targets': targets}]
    plan = {'title': 'roamscan T', 'targets': targets, 'resumed': False, 'probes': probes, 'unprobed': {}}
    fresh = fresh_vars(dhcp1=lease_report((A, X), (B, Y), (third, '10.77.0.102')))
    probed = {'results': [{'item': probes[0], 'elapsed': 0.4, 'packets_sent': {'arp': 4}, 'results': [
        {'ip': X, 'expected_mac': A, 'alive': True, 'method': 'arp', 'macs': [A], 'reason': None},
        {'ip': Y, 'expected_mac': B, 'alive': False, 'method': 'arp', 'macs': [], 'reason': 'no_reply'},
        {'ip': '10.77.0.102', 'expected_mac': third, 'alive': True, 'method': 'arp', 'macs': [A], 'reason': 'mac_mismatch'}]}]}
    result = run_action('cycle_verify', {'plan': plan, 'probes': probed}, task_vars=fresh)
    assert result['launch']['targets'] == [{'identity': A, 'mac': A, 'ip': X}]
    assert [(d['mac'], d['reason']) for d in result['launch']['dropped']] == [(B, 'no_reply'), (third, 'mac_mismatch')]
    assert store['store'].records[B]['pending'] is None and store['store'].records[A]['pending']['title'] == 'roamscan T'
    assert result['liveness_probe'] == {'hosts': ['dhcp1'], 'elapsed': 0.4, 'packets_sent': {'arp': 4}}
    # a probe host that could not probe keeps its targets (their leases were just re-read), and says so
    failed = {'results': [{'item': probes[0], 'failed': True, 'msg': 'raw sockets need CAP_NET_RAW'}]}
    result = run_action('cycle_verify', {'plan': plan, 'probes': failed}, task_vars=fresh)
    assert len(result['launch']['targets']) == 3 and result['launch']['dropped'] == []
    assert [item['reason'] for item in result['launch']['not_probed']] == ['probe on dhcp1 did not run: raw sockets need CAP_NET_RAW'] * 3


def test_verify_reports_a_gone_lease_as_not_leased_even_when_the_probe_saw_nothing(store):
    store['store'] = FakeStore({A: present(A, X)})
    targets = [{'identity': A, 'mac': A, 'ip': X}]
    plan = {'title': 'roamscan T', 'targets': targets, 'probes': [{'host': 'dhcp1', 'targets': targets}]}
    probed = {'results': [{'item': plan['probes'][0], 'results': [
        {'ip': X, 'expected_mac': A, 'alive': False, 'method': 'arp', 'macs': [], 'reason': 'no_reply'}]}]}
    result = run_action('cycle_verify', {'plan': plan, 'probes': probed}, task_vars=fresh_vars(dhcp1=lease_report()))
    assert result['launch']['targets'] == [] and [d['reason'] for d in result['launch']['dropped']] == ['not_leased']


def test_record_turns_intents_into_pending_scans(store):
    intended = present(A, X)
    intended['pending'] = {'scan_ref': None, 'ip': X, 'launched_at': NOW, 'title': 'roamscan T'}
    store['store'] = FakeStore({A: intended})
    result = run_action('cycle_record', {'title': 'roamscan T', 'launched': {'scans': [{'ref': 'scan/9.1', 'targets': [X]}]}},
                        task_vars=SCAN)
    assert result['launch']['recorded'] == [{'identity': A, 'mac': A, 'ip': X, 'scan_ref': 'scan/9.1'}]
    assert store['store'].records[A]['pending']['scan_ref'] == 'scan/9.1'
    result = run_action('cycle_record', {'title': 'roamscan T', 'launched': {'skipped': True}}, task_vars=SCAN)
    assert result['failed'] and 'no scans list' in result['msg']


def test_record_takes_the_launch_loop_one_result_per_route_group(store):
    first, second = present(A, X), present(B, Y)
    first['pending'] = {'scan_ref': None, 'ip': X, 'launched_at': NOW, 'title': 'roamscan T'}
    second['pending'] = {'scan_ref': None, 'ip': Y, 'launched_at': NOW, 'title': 'roamscan T via scanner vpn'}
    store['store'] = FakeStore({A: first, B: second})
    # the same IP in the other group's scan never records it: each intent takes a scan of its own title
    loop = {'results': [{'item': {'title': 'roamscan T'}, 'scans': [{'ref': 'scan/1.1', 'targets': [X, Y]}]},
                        {'item': {'title': 'roamscan T via scanner vpn'}, 'scans': [{'ref': 'scan/1.2', 'targets': [Y]}]}]}
    result = run_action('cycle_record', {'launched': loop}, task_vars=SCAN)
    assert result['launch']['titles'] == ['roamscan T', 'roamscan T via scanner vpn']
    assert [(r['mac'], r['scan_ref']) for r in result['launch']['recorded']] == [(A, 'scan/1.1'), (B, 'scan/1.2')]
    broken = {'results': [{'item': {'title': 'roamscan T'}, 'msg': 'oops'}]}
    result = run_action('cycle_record', {'launched': broken}, task_vars=SCAN)
    assert result['failed'] and 'the launch of roamscan T returned no scans list' in result['msg']
    result = run_action('cycle_record', {'launched': {'scans': []}}, task_vars=SCAN)
    assert result['failed'] and 'title is required' in result['msg']


def test_summary_reads_the_stage_results_and_the_acknowledgements(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary
    monkeypatch.setattr(cycle_summary, 'open_store', lambda settings=None, read_only=False: FakeStore({A: present(A, X)}))
    task_vars = dict(SCAN, groups={'dhcp_servers': ['dhcp1', 'dhcp2']},
                     hostvars={'dhcp1': {'roamscan_acknowledged': {'changed': True}}, 'dhcp2': {'roamscan_acknowledged': {'skipped': True}}},
                     roamscan_remembered={'servers': ['dhcp1'], 'not_reported': {'dhcp2': 'unreachable'}, 'unusable': []},
                     roamscan_launch={'failed': True, 'msg': 'Qualys answered 503'})
    fault = {'task': 'Launch | One scan of all of them', 'msg': 'Qualys answered 503'}
    result = run_action('cycle_summary', {'fault': fault}, task_vars=task_vars)
    summary = result['summary']
    assert summary['known'] == 1 and summary['present'] == 1 and summary['acknowledged'] == ['dhcp1']
    assert summary['fault'] == {'stage': 'launch', 'task': fault['task'], 'msg': fault['msg']}
    assert [item['stage'] for item in summary['not_done']] == ['launch', 'record'] and result['cycle_failed']


def test_summary_is_built_even_when_the_store_cannot_be_opened(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary

    def refuse(settings=None, read_only=False):
        raise UnsafeFactCache('The fact cache is memory')
    monkeypatch.setattr(cycle_summary, 'open_store', refuse)
    fault = {'stage': 'collect', 'task': 'Collect | Refuse bad settings', 'msg': 'The fact cache is memory'}
    result = run_action('cycle_summary', {'fault': fault}, task_vars=SCAN)
    assert not result.get('failed') and result['summary']['known'] is None and result['cycle_failed']
    assert any('memory' in warning for warning in result['warnings'])


def test_coverage_reads_every_record(store):
    store['store'] = FakeStore({A: present(A, X, last_scanned='2026-11-20T00:00:00Z'), B: present(B, Y)})
    result = run_action('laptop_coverage', task_vars={'roamscan_report_days': 30})
    assert (result['coverage']['seen'], result['coverage']['scanned']) == (2, 1) and result['counts']['known'] == 2
    assert store['store'].reads == [('all', True, True)]   # through the report snapshot, which it refreshes


def test_summary_is_built_even_when_the_settings_are_bad(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary
    monkeypatch.setattr(cycle_summary, 'open_store', lambda settings=None, read_only=False: FakeStore({A: present(A, X)}))
    fault = {'stage': 'collect', 'task': 'Collect | Refuse bad settings', 'msg': 'roamscan_rescan_days must be at least 1'}
    result = run_action('cycle_summary', {'fault': fault}, task_vars={'roamscan_rescan_days': 0})
    assert not result.get('failed') and result['summary']['known'] is None and result['cycle_failed']
    assert result['summary']['fault']['msg'] == fault['msg']
    assert any('roamscan_rescan_days must be at least 1, got 0; this step used the defaults' in w for w in result['warnings'])


def test_summary_folds_each_cycle_into_a_daily_history(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary
    fake = FakeStore({A: present(A, X), B: present(B, Y, last_scanned='2026-11-20T00:00:00Z')})
    monkeypatch.setattr(cycle_summary, 'open_store', lambda settings=None, read_only=False: fake)
    task_vars = {'roamscan_launch': {'scan_refs': ['scan/1'], 'api_calls': 3}, 'roamscan_status': {'api_calls': 1},
                 'roamscan_recorded': {'launch': {'recorded': [{'identity': A, 'mac': A, 'ip': X}]}},
                 'roamscan_intent': {'launch': {'dropped': [{'identity': B, 'mac': B, 'ip': Y, 'reason': 'IP %s no longer leased to this MAC' % Y}]}}}
    run_action('cycle_summary', task_vars=task_vars)
    result = run_action('cycle_summary', task_vars=task_vars)
    assert result['history_days'] == 1
    day = fake.entries['roamscan-history']['days'][0]
    assert (day['cycles'], day['launched_scans'], day['launched_targets'], day['known'], day['overdue']) == (2, 2, 2, 2, 1)
    assert day['api_calls'] == {'scan_launch': 6, 'scan_status': 2} and day['covered_share'] == 0.5
    assert day['dropped'] == {'IP <ip> no longer leased to this MAC': 2}
    run_action('cycle_summary', task_vars=task_vars, check_mode=True)
    assert fake.entries['roamscan-history']['days'][0]['cycles'] == 2


def test_summary_keeps_an_unreadable_history_and_warns(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary
    fake = FakeStore({A: present(A, X)})
    fake.entries['roamscan-history'] = ['not', 'a', 'history']
    monkeypatch.setattr(cycle_summary, 'open_store', lambda settings=None, read_only=False: fake)
    result = run_action('cycle_summary')
    assert not result.get('failed') and result['history_days'] is None
    assert any('roamscan-history is not a schema 1 roamscan history' in warning for warning in result['warnings'])
    assert fake.entries['roamscan-history'] == ['not', 'a', 'history']


def test_a_machine_logon_at_a_tunnel_ip_links_the_vpn_certificate_holding_it_and_never_a_log_only_holding(store):
    tunnel, nac = present('vpn_cert:alice-laptop', '10.8.0.5'), present(A, X)
    tunnel.update(identity={'kind': 'vpn_cert', 'value': 'alice-laptop'}, mac=None, source={'kind': 'openvpn', 'host': 'vpn1'})
    nac['authority'] = 'log'   # a NAC session the receiver reported: no live table proves it
    store['store'] = FakeStore({'vpn_cert:alice-laptop': tunnel, A: nac})
    task_vars = with_sources(cycle_vars(), 'domain_controllers', 'roamscan_collected_logons',
                             dc1=logon_report(('ad_machine', 'LAPTOP01$', '10.8.0.5', '2026-11-28T11:30:00Z'),
                                              ('ad_machine', 'LAPTOP09$', X, '2026-11-28T11:30:00Z')))
    result = run_action('cycle_remember', task_vars=task_vars)
    assert not result.get('failed'), result
    assert result['linked'] == {'vpn_cert:alice-laptop': ['ad_machine:LAPTOP01$']}


def test_a_device_linked_by_its_machine_account_is_due_by_the_scan_of_a_member_that_holds_nothing_now(store):
    # the office MAC was scanned and has left; the laptop's tunnel, linked to the same machine account, is no new device
    office, tunnel = present(A, X, last_scanned='2026-11-28T10:00:00Z'), present('vpn_cert:alice-laptop', '10.8.0.5')
    office.update(lease_state='released', links=[{'identity': 'ad_machine:LAPTOP01$', 'kind': 'authenticated'}])
    tunnel.update(identity={'kind': 'vpn_cert', 'value': 'alice-laptop'}, mac=None, source={'kind': 'openvpn', 'host': 'vpn1'},
                  links=[{'identity': 'ad_machine:LAPTOP01$', 'kind': 'authenticated'}])
    store['store'] = FakeStore({A: office, 'vpn_cert:alice-laptop': tunnel, B: present(B, Y)})
    result = run_action('cycle_decide', {'last_scanned': {'skipped': True}}, task_vars=SCAN)
    assert not result.get('failed'), result
    assert [target['identity'] for target in result['plan']['targets']] == [B]
    assert ('linking', ['ad_machine:LAPTOP01$', 'vpn_cert:alice-laptop']) in store['store'].reads


@pytest.mark.parametrize('dc_presence', [False, True])
def test_dc_only_presence_holds_only_an_ip_nothing_else_holds_and_only_when_asked(store, dc_presence):
    store['store'] = FakeStore({A: present(A, X)})
    task_vars = with_sources(cycle_vars(), 'domain_controllers', 'roamscan_collected_logons',
                             dc1=logon_report(('ad_machine', 'LAPTOP01$', X, '2026-11-28T11:30:00Z'),      # A's lease: a link
                                              ('ad_machine', 'STATIC02$', '10.77.5.9', '2026-11-28T11:50:00Z'),
                                              ('ad_user', 'alice', '10.77.5.10', '2026-11-28T11:50:00Z')))
    task_vars['roamscan_dc_presence'] = dc_presence
    result = run_action('cycle_remember', task_vars=task_vars)
    assert not result.get('failed'), result
    records = store['store'].records
    assert result['linked'] == {A: ['ad_machine:LAPTOP01$']} and records[A]['lease_state'] == 'active'
    assert 'ad_machine:LAPTOP01$' not in records and not any(key.startswith('ad_user:') for key in records)
    if not dc_presence:
        assert 'ad_machine:STATIC02$' not in records
        return
    static = records['ad_machine:STATIC02$']
    assert (static['ip'], static['lease_state'], static['authority'], static['lease_expires']) == (
        '10.77.5.9', 'active', 'log', '2026-11-28T12:20:00Z')


def vpn_log_report(*lines):
    """A log_presence result: (event, user, ip or None, time) per ASA line."""
    return {'now': NOW, 'cursor': 'log-cursor-1', 'changed': False, 'observations': [
        {'id': 'v%d' % index, 'source': {'kind': 'cisco_asa', 'host': 'syslog1'}, 'event': event, 'why': 'connect',
         'identity': {'kind': 'vpn_user', 'value': user}, 'ip': ip, 'time': moment,
         'until': '2026-11-28T23:00:00Z' if event != 'end' else None, 'aliases': {}, 'hostname': None, 'authority': 'log'}
        for index, (event, user, ip, moment) in enumerate(lines)]}


def test_a_vpn_disconnect_line_without_an_ip_ends_the_session_it_names(store):
    task_vars = with_sources(cycle_vars(), 'vpn_log_collectors', 'roamscan_collected_vpn_log',
                             syslog1=vpn_log_report(('start', 'carol', '10.88.0.17', '2026-11-28T11:00:00Z'),
                                                    ('start', 'dave', '10.88.0.18', '2026-11-28T11:00:00Z'),
                                                    ('end', 'carol', None, '2026-11-28T11:30:00Z')))
    result = run_action('cycle_remember', task_vars=task_vars)
    assert not result.get('failed'), result
    assert result['acknowledge_vpn_logs'] == [{'host': 'syslog1', 'source': None, 'spool_dir': None, 'cursor': 'log-cursor-1'}]
    records = store['store'].records
    assert records['vpn_user:carol']['lease_state'] != 'active' and records['vpn_user:carol']['ip_history'][-1]['ip'] == '10.88.0.17'
    assert records['vpn_user:dave']['lease_state'] == 'active' and records['vpn_user:dave']['authority'] == 'log'
    # a later read with only dave's disconnect ends his stored session
    task_vars['hostvars']['syslog1']['roamscan_collected_vpn_log'] = vpn_log_report(('end', 'dave', None, '2026-11-28T11:45:00Z'))
    assert not run_action('cycle_remember', task_vars=task_vars).get('failed')
    assert store['store'].records['vpn_user:dave']['lease_state'] != 'active'


def receiver_report(*records, cursor='receiver-cursor-1'):
    """A presence_events result of a receiver's spool: (event, user, ip or None, time) per spooled record."""
    return {'now': NOW, 'cursor': cursor, 'changed': False, 'source': 'receiver', 'table': [], 'observations': [
        {'id': 'r%d' % index, 'source': {'kind': 'receiver', 'host': 'collector1'}, 'event': event, 'why': event,
         'identity': {'kind': 'vpn_user', 'value': user}, 'ip': ip, 'time': moment,
         'until': '2026-11-28T23:00:00Z' if event != 'end' else None, 'aliases': {'parser': 'cisco_asa'},
         'hostname': None, 'authority': 'log'}
        for index, (event, user, ip, moment) in enumerate(records)]}


def test_a_receiver_disconnect_without_an_ip_ends_the_receiver_session_only(store):
    tunnel = present('vpn_user:erin', '10.8.0.9')
    tunnel.update(identity={'kind': 'vpn_user', 'value': 'erin'}, mac=None, source={'kind': 'openvpn', 'host': 'vpn1'})
    store['store'] = FakeStore({'vpn_user:erin': tunnel})
    task_vars = with_sources(cycle_vars(), 'presence_receivers', 'roamscan_collected_receiver',
                             collector1=receiver_report(('start', 'carol', '10.88.0.17', '2026-11-28T11:00:00Z'),
                                                        ('start', 'dave', '10.88.0.18', '2026-11-28T11:00:00Z')))
    assert not run_action('cycle_remember', task_vars=task_vars).get('failed')
    task_vars['hostvars']['collector1']['roamscan_collected_receiver'] = receiver_report(
        ('end', 'carol', None, '2026-11-28T11:30:00Z'), ('end', 'erin', None, '2026-11-28T11:30:00Z'),
        cursor='receiver-cursor-2')
    result = run_action('cycle_remember', task_vars=task_vars)
    assert not result.get('failed'), result
    assert result['acknowledge'] == [{'host': 'collector1', 'source': 'receiver', 'spool_dir': None, 'cursor': 'receiver-cursor-2'}]
    records = store['store'].records
    assert records['vpn_user:carol']['lease_state'] == 'released'
    assert records['vpn_user:carol']['ip_history'][-1]['to'] == '2026-11-28T11:30:00Z'
    assert records['vpn_user:dave']['lease_state'] == 'active'
    # erin's tunnel is the OpenVPN server's (its live table): a receiver line naming her user ends nothing
    assert records['vpn_user:erin']['lease_state'] == 'active' and records['vpn_user:erin']['ip'] == '10.8.0.9'


def test_verify_reads_the_tables_each_presence_host_registered_and_a_host_that_failed_confirms_nothing(store):
    store['store'] = FakeStore({A: present(A, X), B: present(B, Y)})
    plan = {'title': 'roamscan T', 'targets': [{'identity': A, 'mac': A, 'ip': X}, {'identity': B, 'mac': B, 'ip': Y}],
            'held': None, 'resumed': False}
    task_vars = fresh_vars(dhcp1=lease_report((A, X)), dhcp2={'failed': True, 'msg': 'The task timed out'})
    result = run_action('cycle_verify', {'plan': plan}, task_vars=task_vars)
    assert result['launch']['targets'] == [{'identity': A, 'mac': A, 'ip': X}]
    assert result['launch']['dropped'] == [{'identity': B, 'mac': B, 'ip': Y, 'reason': 'not_leased'}]
    named = run_action('cycle_verify', {'plan': plan, 'leases_from': 'other_name'}, task_vars=task_vars)
    assert named['launch']['targets'] == [] and len(named['launch']['dropped']) == 2   # nothing registered under it


# -- VPN servers: presence hosts beside the DHCP servers -----------------------------------------------

def vpn_report(source, *sessions, cursor='vpn-cursor'):
    table = [{'id': None, 'source': {'kind': source, 'host': 'vpn1'}, 'event': 'seen', 'why': 'connected',
              'identity': {'kind': kind, 'value': value}, 'ip': ip, 'time': NOW, 'until': None, 'aliases': {},
              'hostname': None, 'authority': 'table'} for kind, value, ip in sessions]
    return {'now': NOW, 'observations': [], 'table': table, 'cursor': cursor, 'changed': False, 'source': source,
            'spool_dir': '/var/spool/roamscan-vpn', 'table_path': '/run/openvpn-server/status-roamscan.log'}


def test_check_chooses_the_dhcp_and_vpn_servers_and_refuses_a_vpn_server_of_unknown_kind(store, qualys_environment):
    groups = {'dhcp_servers': ['dhcp1'], 'vpn_servers': ['vpn1', 'wg1']}
    hostvars = {'vpn1': {'roamscan_vpn_server': 'openvpn'}, 'wg1': {'roamscan_vpn_server': 'wireguard'}}
    result = run_action('cycle_check', task_vars=dict(SCAN, groups=groups, hostvars=hostvars))
    assert result['presence_hosts'] == ['dhcp1', 'vpn1', 'wg1'] and result['vpn_servers'] == ['vpn1', 'wg1']
    hostvars['wg1'] = {'roamscan_vpn_server': 'pptp'}
    refused = run_action('cycle_check', task_vars=dict(SCAN, groups=groups, hostvars=hostvars))
    assert refused['failed'] and 'roamscan_vpn_server' in refused['msg'] and "wg1 ('pptp')" in refused['msg']


def test_remember_folds_every_source_a_host_registered_and_lists_their_tables_and_spools(store):
    task_vars = cycle_vars(dhcp1=lease_report((A, X)))
    task_vars['groups']['vpn_servers'] = ['vpn1']
    task_vars['hostvars']['vpn1'] = {
        'roamscan_collected': {'skipped': True},                     # the DHCP task skips a VPN server
        'roamscan_collected_vpn': vpn_report('openvpn', ('vpn_cert', 'alice-laptop', '10.88.0.2')),
        'roamscan_collected_wireguard': {'skipped': True}}
    result = run_action('cycle_remember', task_vars=task_vars)
    assert result['servers'] == ['dhcp1', 'vpn1'] and result['not_reported'] == {}
    assert store['store'].records['vpn_cert:alice-laptop']['ip'] == '10.88.0.2'
    assert store['store'].records['vpn_cert:alice-laptop']['source'] == {'kind': 'openvpn', 'host': 'vpn1'}
    assert result['live_tables'][1] == {'host': 'vpn1', 'source': 'openvpn', 'table_path': '/run/openvpn-server/status-roamscan.log'}
    assert result['acknowledge'][1] == {'host': 'vpn1', 'source': 'openvpn', 'spool_dir': '/var/spool/roamscan-vpn',
                                        'cursor': 'vpn-cursor'}


def test_verify_keeps_a_tunnel_ip_only_while_the_same_identity_holds_it_in_the_session_table(store):
    cert, other = 'vpn_cert:alice-laptop', 'vpn_cert:bob-laptop'
    records = {}
    for key, ip in ((cert, '10.88.0.2'), (other, '10.88.0.3')):
        records[key] = present(key, ip)
        records[key].update(source={'kind': 'openvpn', 'host': 'vpn1'})
    store['store'] = FakeStore(records)
    plan = {'title': 'roamscan T', 'held': None, 'resumed': False, 'intended_at': None,
            'targets': [{'identity': cert, 'mac': None, 'ip': '10.88.0.2'}, {'identity': other, 'mac': None, 'ip': '10.88.0.3'}]}
    task_vars = dict(SCAN, groups={'vpn_servers': ['vpn1']}, hostvars={'vpn1': {
        'roamscan_fresh': {'skipped': True},                         # the DHCP re-read skips a VPN server
        'roamscan_fresh_vpn': vpn_report('openvpn', ('vpn_cert', 'alice-laptop', '10.88.0.2'), ('vpn_user', 'bob', '10.88.0.3'))}})
    result = run_action('cycle_verify', {'plan': plan}, task_vars=task_vars)
    assert result['launch']['targets'] == [{'identity': cert, 'mac': None, 'ip': '10.88.0.2'}]
    assert result['launch']['dropped'] == [{'identity': other, 'mac': None, 'ip': '10.88.0.3', 'reason': 'not_leased'}]


def linked_record(mac, ip, identity):
    record = present(mac, ip)
    record['links'] = [{'identity': identity, 'kind': 'authenticated', 'since': '2026-11-28T11:05:00Z',
                        'evidence': {'source': 'openvpn', 'host': 'vpn1', 'ip': ip, 'time': '2026-11-28T11:05:00Z',
                                     'held_since': '2026-11-28T11:00:00Z'}}]
    return record


def test_unlink_shows_the_evidence_in_check_mode_then_removes_the_link_for_good(store):
    fake = store['store'] = FakeStore({A: linked_record(A, X, 'vpn_cert:jump-01'), B: linked_record(B, Y, 'vpn_cert:jump-01')})
    checked = run_action('device_unlink', {'identity': 'vpn_cert:jump-01', 'devices': ['mac:' + A]}, check_mode=True, diff=True)
    assert checked['changed'] and not checked.get('failed') and fake.saved == {} and fake.holder is None
    assert [(item['record'], item['link']['evidence']['ip']) for item in checked['unlinked']] == [(A, X)]
    assert checked['diff'][0]['before']['links'][0]['identity'] == 'vpn_cert:jump-01' and checked['diff'][0]['after']['links'] == []

    done = run_action('device_unlink', {'identity': 'vpn_cert:jump-01', 'devices': ['mac:' + A], 'reason': 'a jump host'})
    assert done['changed'] and done['stored'] == 1 and sorted(fake.saved) == [A] and fake.holder is None   # lease given back
    assert fake.records[A]['links'] == [] and fake.records[B]['links'][0]['identity'] == 'vpn_cert:jump-01'
    assert fake.records[A]['unlinked'][0] == {'identity': 'vpn_cert:jump-01', 'at': NOW, 'reason': 'a jump host',
                                              'evidence': checked['unlinked'][0]['link']['evidence']}
    # a later sighting of the same identity at A's address does not link it again
    from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import add_links
    again = linked_record(A, X, 'vpn_cert:jump-01')['links']
    assert add_links(fake.records, {A: again}) == set() and fake.records[A]['links'] == []

    nothing = run_action('device_unlink', {'identity': 'vpn_cert:jump-01', 'devices': ['mac:' + A]})
    assert not nothing['changed'] and nothing['unlinked'] == []


def test_unlink_refuses_bad_identities_and_a_store_a_cycle_holds(store):
    fake = store['store'] = FakeStore({A: linked_record(A, X, 'vpn_cert:jump-01')})
    bad = run_action('device_unlink', {'identity': 'vpn_cert:<script>'})
    assert bad['failed'] and 'device_unlink: identity value of kind vpn_cert' in bad['msg']
    fake.holder = {'token': 7, 'owner': 'awx', 'host': 'ctl1', 'pid': 9, 'since': 0.0, 'expires': 1e12}
    held = run_action('device_unlink', {'identity': 'vpn_cert:jump-01'})
    assert held['failed'] and 'run device_unlink again when it has ended' in held['msg'] and fake.saved == {}
    aliased = {'roamscan_device_aliases': [{'device': 'jump', 'identities': ['vpn_cert:jump-01', 'mac:' + B]}]}
    fake.holder = None
    result = run_action('device_unlink', {'identity': 'vpn_cert:jump-01'}, task_vars=aliased)
    assert result['still_aliased'] == 'jump' and any('still joined to device jump by the alias list' in w for w in result['warnings'])


# -- the API budget governor through the stages ----------------------------------------------------

EXPRESS_LAUNCH = {'calls': 1, 'limit': 50, 'window_sec': 86400, 'remaining': 0, 'concurrency_limit': 1,
                  'blocked_code': '1965', 'to_wait_sec': 7200}


def test_a_409_kept_by_the_summary_holds_the_next_cycles_launch_and_says_why(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary
    fake = FakeStore({A: present(A, X)})
    store['store'] = fake
    monkeypatch.setattr(cycle_summary, 'open_store', lambda settings=None, read_only=False: fake)
    failed = {'failed': True, 'msg': 'Qualys API rate limit reached', 'api_usage': {'scan_launch': EXPRESS_LAUNCH}}
    summary = run_action('cycle_summary', {'fault': {'task': 'Launch | One scan', 'msg': 'rate'}},
                         task_vars=dict(SCAN, roamscan_launch=failed))['summary']
    assert fake.fenced_writes == ['roamscan-api-budget']
    assert summary['api_budget'] == {'scan_launch': '0 of 50 calls per day left to roamscan (5 kept for other tools)'}
    # the next cycle: nothing launched, the host list not even read, and the reason named
    confirmed = run_action('cycle_confirm', {'scan_status': {'skipped': True}}, task_vars=SCAN)
    assert confirmed['host_list_lookup'] == [] and confirmed['launch_gate'].startswith(
        'budget: Qualys blocked scan_launch with HTTP 409 (code 1965) at %s, until 2026-11-28T14:00:00Z' % NOW)
    plan = run_action('cycle_decide', {'last_scanned': {'skipped': True}}, task_vars=dict(SCAN, roamscan_confirmed=confirmed))['plan']
    assert plan['targets'] == [] and plan['held'] == confirmed['launch_gate']
    assert [(item['mac'], item['position']) for item in plan['held_back']] == [(A, 1)]
    summary = run_action('cycle_summary', task_vars=dict(SCAN, roamscan_confirmed=confirmed, roamscan_plan={'plan': plan}))['summary']
    assert summary['deferred'] == [confirmed['launch_gate']]


def test_a_cycle_that_called_no_qualys_api_leaves_the_budget_entry_as_it_was(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary
    fake = FakeStore({A: present(A, X)})
    monkeypatch.setattr(cycle_summary, 'open_store', lambda settings=None, read_only=False: fake)
    summary = run_action('cycle_summary', task_vars=SCAN)['summary']
    assert getattr(fake, 'fenced_writes', []) == [] and 'roamscan-api-budget' not in fake.entries
    assert summary['api_budget'] is not None and 'roamscan-history' in fake.entries   # it ran and was counted


def test_remember_skips_the_status_poll_a_learned_scan_time_rules_out(store):
    waiting = present(A, X)
    waiting['pending'] = {'scan_ref': 'scan/1.1', 'ip': X, 'launched_at': '2026-11-28T11:50:00Z', 'title': 't'}
    fake = FakeStore({A: waiting})
    store['store'] = fake
    result = run_action('cycle_remember', task_vars=cycle_vars())
    assert result['poll_scan_refs'] == ['scan/1.1'] and result['deferred'] == []
    fake.entries['roamscan-api-budget'] = {'schema': 1, 'apis': {}, 'durations': {'0': [1200]}, 'scans': {}, 'host_list': {}}
    result = run_action('cycle_remember', task_vars=cycle_vars())
    assert result['pending_scan_refs'] == ['scan/1.1'] and result['poll_scan_refs'] == []
    assert result['deferred'] == ['no pending scan can have finished yet (launch + appliance pickup + the time learned for '
                                  'scans of its size): next poll after 2026-11-28T12:10:00Z']


def test_an_unreadable_budget_is_planned_without_and_never_overwritten(monkeypatch, store):
    from ansible_collections.roamscan.qualys.plugins.action import cycle_summary
    fake = FakeStore({A: present(A, X)})
    fake.entries['roamscan-api-budget'] = ['garbage']
    store['store'] = fake
    monkeypatch.setattr(cycle_summary, 'open_store', lambda settings=None, read_only=False: fake)
    confirmed = run_action('cycle_confirm', {'scan_status': {'skipped': True}}, task_vars=SCAN)
    assert [item['mac'] for item in confirmed['host_list_lookup']] == [A]
    assert any('Cannot read the API budget (roamscan-api-budget)' in warning for warning in confirmed['warnings'])
    result = run_action('cycle_summary', task_vars=SCAN)
    assert fake.entries['roamscan-api-budget'] == ['garbage'] and result['summary']['api_budget'] is None
