# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The laptops inventory plugin against a golden ``ansible-inventory --list``-shaped answer.

Only public behaviour is used: laptop records written into a jsonfile fact cache through Ansible's
cache plugin API (as the cycle stores them), the plugin configured by its YAML file, and the groups
and host variables it produces. Times are chosen so that membership does not move with the clock
(leases end in 2020 or 2099, rescan_days spans a century).

After an intended change of the output, regenerate and review the diff:
    ROAMSCAN_UPDATE_GOLDEN=1 python -m pytest tests/unit/plugins/inventory/test_laptops.py
(with the collection importable as ansible_collections.roamscan.qualys).
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from ansible.inventory.data import InventoryData
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import cache_loader, init_plugin_loader, inventory_loader
from ansible.utils.collection_loader import AnsibleCollectionConfig

GOLDEN = Path(__file__).parent / 'golden' / 'laptops_inventory.json'


def laptop(mac, **fields):
    record = {'schema': 1, 'mac': mac, 'ip': None, 'hostname': None, 'first_seen': '2026-11-01T08:00:00Z',
              'last_seen': None, 'lease_state': None, 'lease_expires': None, 'held_since': None, 'dhcp_server': None,
              'ip_history': [], 'last_scanned': None, 'last_scan_ref': None, 'pending': None}
    record.update(fields)
    return record


def present(mac, ip, server, **fields):
    return laptop(mac, ip=ip, lease_state='active', held_since='2026-11-30T07:00:00Z', last_seen='2026-11-30T07:10:00Z',
                  lease_expires='2099-01-01T00:00:00Z', dhcp_server=server, **fields)


RECORDS = {
    # present, never scanned: overdue
    'mac-027700000a01': present('02:77:00:00:0a:01', '10.77.0.100', 'dhcp1', hostname='alice-lt'),
    # present, scanned recently: not overdue
    'mac-027700000b02': present('02:77:00:00:0b:02', '10.77.0.101', 'dhcp1', hostname='bob-lt',
                                last_scanned='2026-11-30T07:20:00Z', last_scan_ref='scan/1796022000.00001'),
    # present with a scan pending: pending, never overdue while it is
    'mac-027700000c03': present('02:77:00:00:0c:03', '10.77.1.50', 'dhcp2', pending={
        'scan_ref': 'scan/1796025600.00002', 'ip': '10.77.1.50', 'launched_at': '2026-11-30T08:00:00Z',
        'title': 'roamscan 2026-11-30T08:00:00Z'}),
    # gone since 2020 (lease ran out), a hostile host name kept as data
    'mac-027700000d04': laptop('02:77:00:00:0d:04', ip='10.77.0.9', lease_state='active', held_since='2020-01-01T00:00:00Z',
                               last_seen='2020-01-01T00:00:00Z', lease_expires='2020-01-01T01:00:00Z', dhcp_server='dhcp2',
                               hostname='{{ lookup("pipe", "id") }}',
                               ip_history=[{'ip': '10.77.0.8', 'from': '2019-12-01T00:00:00Z', 'to': '2019-12-31T00:00:00Z'}]),
    # one device of two MACs by the operator's alias list: scanned on its dock NIC, so not overdue
    'mac-027700000f06': present('02:77:00:00:0f:06', '10.77.0.120', 'dhcp1', hostname='carol-dock',
                                last_scanned='2026-11-29T07:20:00Z', last_scan_ref='scan/1796022000.00003'),
    'mac-027700001007': laptop('02:77:00:00:10:07', hostname='carol-wifi', dhcp_server='dhcp2'),
    # one device by an authenticated link (a VPN certificate seen at its leased IP), with the evidence
    'mac-027700001108': present('02:77:00:00:11:08', '10.77.0.130', 'dhcp2', links=[{
        'identity': 'vpn_cert:dave-laptop', 'kind': 'authenticated', 'since': '2026-11-30T07:05:00Z',
        'evidence': {'source': 'openvpn', 'host': 'vpn1', 'ip': '10.77.0.130', 'time': '2026-11-30T07:05:00Z',
                     'held_since': '2026-11-30T07:00:00Z'}}]),
    # dave's VPN certificate: an identity record of its own (a store key that cannot be reversed), credited by a scan
    'roamscan-id-vpn_cert-' + hashlib.sha256(b'dave-laptop').hexdigest()[:32]: dict(
        laptop(None, ip='10.8.0.6', lease_state='active', held_since='2026-11-30T07:05:00Z', last_seen='2026-11-30T07:10:00Z',
               lease_expires='2099-01-01T00:00:00Z', last_scanned='2026-11-30T08:00:00Z', last_scan_ref='scan/1796025600.00009'),
        identity={'kind': 'vpn_cert', 'value': 'dave-laptop'}, source={'kind': 'openvpn', 'host': 'vpn1'}, authority='table'),
}
NOT_LAPTOPS = {
    'dhcp1': {'ansible_facts_of_a_server': True},                               # another host's facts share the cache
    'mac-027700000e05': {'roamscan': {'schema': 99, 'mac': '02:77:00:00:0e:05'}},  # corrupt record: skipped
}
# The plugin's documented example, read from a durable jsonfile cache of our own.
CONFIG = '''plugin: roamscan.qualys.laptops
rescan_days: 36500
fact_cache:
  plugin: ansible.builtin.jsonfile
  connection: {cache}
  timeout: 0
keyed_groups:
  - key: roamscan.dhcp_server
    prefix: served_by
groups:
  roaming_never_scanned: roamscan.last_scanned is none
compose:
  roamscan_name: roamscan.hostname | default('', true)
device_aliases:
  - device: carol laptop
    identities: [mac:02:77:00:00:0f:06, mac:02:77:00:00:10:07]
'''


def inventory_list(inventory):
    """What ``ansible-inventory --list`` prints: groups with hosts/children, hostvars under _meta."""
    listing = {'_meta': {'hostvars': {}}}
    for name, group in sorted(inventory.groups.items()):
        entry = {}
        hosts = sorted(host.name for host in group.hosts)
        children = sorted(child.name for child in group.child_groups)
        if hosts:
            entry['hosts'] = hosts
        if children:
            entry['children'] = children
        if entry:
            listing[name] = entry
    for name, host in sorted(inventory.hosts.items()):
        listing['_meta']['hostvars'][name] = host.get_vars()
    for name in listing['_meta']['hostvars']:
        for magic in ('inventory_hostname', 'inventory_hostname_short', 'group_names', 'inventory_file', 'inventory_dir'):
            listing['_meta']['hostvars'][name].pop(magic, None)
    return json.loads(json.dumps(listing, sort_keys=True, default=str))


def parse_laptops(tmp_path, config_text, records, others=None):
    """The plugin's inventory from ``records`` (host: record) and ``others`` (host: facts) in a jsonfile cache."""
    if not AnsibleCollectionConfig.collection_finder:
        init_plugin_loader()    # run by plain pytest (regenerating); ansible-test has set it up already
    cache_dir = tmp_path / 'facts'
    cache = cache_loader.get('ansible.builtin.jsonfile', _uri=str(cache_dir), _timeout=0, _prefix='')
    for host, facts in list(records.items()) + list((others or {}).items()):
        cache.set(host, {'roamscan': facts} if host in records else facts)
    config = tmp_path / 'roamscan.laptops.yml'
    config.write_text(config_text.format(cache=cache_dir))
    plugin = inventory_loader.get('roamscan.qualys.laptops')
    assert plugin.verify_file(str(config))
    inventory = InventoryData()
    plugin.parse(inventory, DataLoader(), str(config), cache=False)
    inventory.reconcile_inventory()    # as ansible-inventory does after every source
    return inventory_list(inventory)


@pytest.fixture
def laptops_inventory(tmp_path):
    return parse_laptops(tmp_path, CONFIG, RECORDS, NOT_LAPTOPS)


@pytest.mark.parametrize('option, recorded, overdue', [
    ('', None, ['mac-027700000f06']),                      # no cycle yet: the cycle's default, 30 days
    ('', 36500, []),                                        # the period the last cycle used
    ('rescan_days: 14\n', 36500, ['mac-027700000f06']),    # the option, when set, wins
])
def test_rescan_days_is_the_last_cycles_unless_set(tmp_path, option, recorded, overdue):
    scanned_2020 = {'mac-027700000f06': present('02:77:00:00:0f:06', '10.77.0.106', 'dhcp1', last_scanned='2020-06-01T00:00:00Z',
                                                last_scan_ref='scan/1590969600.00001')}
    history = {'roamscan-history': {'schema': 1, 'days': [], 'rescan_days': recorded}} if recorded else {}   # as cycle_summary stores it
    config = 'plugin: roamscan.qualys.laptops\n%sfact_cache:\n  plugin: ansible.builtin.jsonfile\n  connection: {cache}\n  timeout: 0\n' % option
    listing = parse_laptops(tmp_path, config, scanned_2020, history)
    assert listing.get('roaming_overdue', {}).get('hosts', []) == overdue


def test_inventory_matches_the_reviewed_golden_listing(laptops_inventory):
    if os.environ.get('ROAMSCAN_UPDATE_GOLDEN'):
        GOLDEN.write_text(json.dumps(laptops_inventory, indent=2, sort_keys=True) + '\n', encoding='utf-8')
    assert laptops_inventory == json.loads(GOLDEN.read_text(encoding='utf-8'))


def test_golden_listing_says_what_users_rely_on(laptops_inventory):
    """The golden file itself, checked against the plugin's documented groups (so a bad regeneration shows)."""
    golden = json.loads(GOLDEN.read_text(encoding='utf-8'))
    # one host per device: a MAC nothing links keeps its 0.x name, an aliased device has the operator's name
    assert sorted(golden['roaming_clients']['hosts']) == ['carol_laptop', 'mac-027700000a01', 'mac-027700000b02',
                                                          'mac-027700000c03', 'mac-027700000d04', 'mac-027700001108']
    assert golden['roaming_present']['hosts'] == ['carol_laptop', 'mac-027700000a01', 'mac-027700000b02', 'mac-027700000c03',
                                                  'mac-027700001108']
    # dave's device is covered by the scan credited on its VPN certificate
    assert golden['roaming_overdue']['hosts'] == ['mac-027700000a01', 'mac-027700000d04']
    assert golden['roaming_pending']['hosts'] == ['mac-027700000c03']
    assert golden['roaming_linked']['hosts'] == ['carol_laptop', 'mac-027700001108']
    assert golden['served_by_dhcp2']['hosts'] == ['mac-027700000c03', 'mac-027700000d04', 'mac-027700001108']
    hostvars = golden['_meta']['hostvars']
    assert all(hostvars[host]['ansible_connection'] == 'roamscan.qualys.record_only' for host in golden['roaming_clients']['hosts'])
    # a client-supplied host name stays data: composed from, never run
    assert hostvars['mac-027700000d04']['roamscan']['hostname'] == '{{ lookup("pipe", "id") }}'
    assert hostvars['mac-027700000d04']['roamscan_name'] == '{{ lookup("pipe", "id") }}'
    assert 'mac-027700000e05' not in hostvars and 'dhcp1' not in hostvars
    # a device of one identity keeps every field of release 0.x's record
    gone = hostvars['mac-027700000d04']['roamscan']
    assert {key: gone[key] for key in RECORDS['mac-027700000d04']} == RECORDS['mac-027700000d04']
    carol = hostvars['carol_laptop']['roamscan']
    assert [(item['kind'], item['value'], item['source']['host']) for item in carol['identities']] == [
        ('mac', '02:77:00:00:0f:06', 'dhcp1'), ('mac', '02:77:00:00:10:07', 'dhcp2')]
    assert (carol['last_scanned'], carol['last_scan_identity'], carol['overdue']) == ('2026-11-29T07:20:00Z', '02:77:00:00:0f:06', False)
    assert sorted(carol['records']) == ['02:77:00:00:0f:06', '02:77:00:00:10:07']
    dave = hostvars['mac-027700001108']['roamscan']
    assert [item['key'] for item in dave['identities']] == ['02:77:00:00:11:08', 'vpn_cert:dave-laptop']
    assert dave['links'][0]['evidence']['ip'] == '10.77.0.130'
    assert dave['sources'] == [{'authority': 'table', 'host': 'dhcp2', 'kind': 'dhcp'}, {'authority': 'table', 'host': 'vpn1', 'kind': 'openvpn'}]
    assert (dave['last_scanned'], dave['last_scan_identity'], dave['identities'][1]['ip']) == (
        '2026-11-30T08:00:00Z', 'vpn_cert:dave-laptop', '10.8.0.6')


def vpn_record(value, ip, **fields):
    """A non-MAC identity record as the cycle keeps it: its identity, source and authority say what it is."""
    record = dict(laptop(None, ip=ip, lease_state='active', held_since='2026-11-30T07:00:00Z', last_seen='2026-11-30T07:10:00Z',
                         lease_expires='2099-01-01T00:00:00Z'),
                  identity={'kind': 'vpn_cert', 'value': value}, source={'kind': 'openvpn', 'host': 'vpn1'}, authority='table')
    record.update(fields)
    return record


def test_non_mac_identities_are_devices_of_their_own_or_join_the_device_they_are_linked_to():
    if not AnsibleCollectionConfig.collection_finder:
        init_plugin_loader()
    plugin = inventory_loader.get('roamscan.qualys.laptops')
    plugin.inventory = InventoryData()
    plugin.set_options({'plugin': 'roamscan.qualys.laptops', 'rescan_days': 30})
    linked = present('02:77:00:00:11:08', '10.77.0.130', 'dhcp2', links=[{
        'identity': 'vpn_cert:dave-laptop', 'kind': 'authenticated', 'since': '2026-11-30T07:05:00Z', 'evidence': {}}])
    records = {'02:77:00:00:11:08': linked,
               'vpn_cert:dave-laptop': vpn_record('dave-laptop', '10.8.0.6', last_scanned='2026-11-30T08:00:00Z'),
               'vpn_cert:erin': vpn_record('erin', '10.8.0.7')}
    plugin.populate(records, [], '2026-11-30T09:00:00Z', 30)
    hosts = sorted(plugin.inventory.hosts)
    erin_host = [host for host in hosts if host.startswith('roamscan-device-')]
    assert hosts == sorted(['mac-027700001108'] + erin_host) and len(erin_host) == 1
    dave = plugin.inventory.get_host('mac-027700001108').get_vars()['roamscan']
    assert [(item['kind'], item['source']['kind']) for item in dave['identities']] == [('mac', 'dhcp'), ('vpn_cert', 'openvpn')]
    assert dave['sources'] == [{'kind': 'dhcp', 'host': 'dhcp2', 'authority': 'table'}, {'kind': 'openvpn', 'host': 'vpn1', 'authority': 'table'}]
    # the scan credited on the VPN identity is the device's: not overdue
    assert (dave['last_scanned'], dave['last_scan_identity'], dave['overdue']) == ('2026-11-30T08:00:00Z', 'vpn_cert:dave-laptop', False)
    erin = plugin.inventory.get_host(erin_host[0]).get_vars()['roamscan']
    assert (erin['mac'], erin['identities'][0]['value'], erin['overdue']) == (None, 'erin', True)
    assert set(plugin.inventory.groups['roaming_overdue'].get_hosts()) == {plugin.inventory.get_host(erin_host[0])}
