# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: laptops
short_description: Roaming devices remembered by roamscan, from the Ansible fact cache
version_added: 0.1.0
description:
  - Lists one host per device recorded by the C(roamscan.qualys.scan_overdue) cycle, read from the configured
    Ansible fact cache (the same store the cycle's stage actions, such as M(roamscan.qualys.cycle_remember), write).
  - A device is the set of identities (MACs, VPN certificate or user names, AD machine accounts, ...) joined by the
    operator's alias list (O(device_aliases), O(device_aliases_file); give the values the cycle uses) or by an
    authenticated link the cycle proved; an identity nothing links is a device of its own.
  - "Host names: the alias list's device name for a listed device (spaces become C(_)); otherwise C(mac-) and the
    12 hex digits of the device's smallest MAC (the name release 0.x gave every MAC, so a MAC nothing links keeps its
    name); otherwise, a device with no MAC, C(roamscan-device-) and 16 hex digits of a digest of its smallest
    identity. A device name that would collide with another host falls back to the last form, with a warning."
  - "Each host carries the device in the host variable C(roamscan): C(device) (its stable id), C(name), C(identities)
    (C([{key, kind, value, source, present, ip, last_seen, last_scanned}])), C(sources) (C([{kind, host, authority}])),
    C(links) (with their evidence), C(ip), C(mac), C(hostname), C(dhcp_server), C(present), C(pending), C(first_seen),
    C(last_seen), the last credited scan of any identity (C(last_scanned), C(last_scan_ref), C(last_scan_identity)),
    C(overdue), C(overdue_since), C(holding_identity) and C(records) (each identity's stored record, by identity key).
    The other fields of the record of C(holding_identity) (the identity whose address C(ip) is - C(lease_state),
    C(lease_expires), C(held_since), C(ip_history), ...) are there too, so for a device of one identity C(roamscan)
    holds everything release 0.x's record held."
  - "Devices are never connected to - their C(ansible_connection) is
    R(roamscan.qualys.record_only,ansible_collections.roamscan.qualys.record_only_connection), which refuses every
    connection. Use them from C(hosts: localhost) plays through C(groups) and C(hostvars)."
  - "Groups: C(roaming_clients) (all), C(roaming_present) (an identity holds an address now), C(roaming_overdue) (never
    scanned or last scanned more than O(rescan_days) ago, and no scan pending), C(roaming_pending) (a roamscan scan
    is pending for one of its identities), C(roaming_linked) (devices of two or more identities).
    Add your own with O(compose), O(groups) and O(keyed_groups)."
  - Corrupt cache entries and unusable alias entries are skipped with a warning.
  - A fact cache that forgets (memory, entries that expire, an AWX or ansible-runner per-job directory) is refused
    with the reason, as the cycle refuses it, instead of listing empty or thinning groups.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.constructed
  - roamscan.qualys.cycle.fact_cache
options:
  plugin:
    description: Marks this file as configuration for this plugin.
    type: str
    required: true
    choices: [roamscan.qualys.laptops]
  rescan_days:
    description:
      - Days after the last completed scan when a laptop is overdue again.
      - If not set, the value the last scan cycle used (its C(roamscan_rescan_days), recorded in the store with the
        cycle history), so the inventory and the cycle agree without repeating the setting; 30 before the first cycle.
    type: int
  device_aliases:
    description:
      - The operator's alias list, as the cycle's C(roamscan_device_aliases) (a list of C({device, identities})).
    type: list
    elements: raw
    default: []
    version_added: 0.2.0
  device_aliases_file:
    description:
      - The alias file the cycle reads (C(roamscan_device_aliases_file)), YAML or CSV.
    type: path
    version_added: 0.2.0
notes:
  - The file must end in C(laptops.yml) or C(laptops.yaml).
  - The fact cache is configured as usual (C(fact_caching), C(fact_caching_connection), C(fact_caching_timeout=0)).
"""

EXAMPLES = r"""
# inventory/roamscan.laptops.yml
plugin: roamscan.qualys.laptops
rescan_days: 14
device_aliases_file: /etc/roamscan/devices.yml
keyed_groups:
  - key: roamscan.dhcp_server
    prefix: served_by
groups:
  roaming_never_scanned: roamscan.last_scanned is none
compose:
  roamscan_days_since_seen: ((now(utc=true) - (roamscan.last_seen | to_datetime('%Y-%m-%dT%H:%M:%SZ'))).days) if roamscan.last_seen else none
"""


from ansible.errors import AnsibleParserError
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.inventory import BaseInventoryPlugin, Constructable

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import mac_host_name
from ansible_collections.roamscan.qualys.plugins.module_utils._time import now as time_now
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import AliasError, device_views, read_alias_settings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._history import HISTORY_KEY, recorded_rescan_days
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import SETTINGS
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import StoreError, UnsafeFactCache, open_store

CONNECTION = 'roamscan.qualys.record_only'
GROUPS = ('roaming_clients', 'roaming_present', 'roaming_overdue', 'roaming_pending', 'roaming_linked')


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = 'roamscan.qualys.laptops'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(('laptops.yml', 'laptops.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            groups, skipped = read_alias_settings({'device_aliases': self.get_option('device_aliases'),
                                                   'device_aliases_file': self.get_option('device_aliases_file')})
        except AliasError as exc:
            raise AnsibleParserError('roamscan.qualys.laptops: %s' % to_text(exc)) from exc
        for item in skipped:
            self.display.warning('roamscan.qualys.laptops: skipped device alias entry %s: %s' % (item['entry'], item['reason']))
        try:
            store = open_store(self.get_option('fact_cache'))
            records = store.all(snapshot=True, refresh=False)   # the report keeps the snapshot up to date
        except UnsafeFactCache as exc:
            raise AnsibleParserError('roamscan.qualys.laptops: refusing a fact cache that forgets laptops: %s' % to_text(exc)) from exc
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise AnsibleParserError('roamscan.qualys.laptops: cannot read the fact cache: %s' % to_text(exc)) from exc
        for item in store.corrupt:
            self.display.warning('roamscan.qualys.laptops: skipped corrupt fact cache entry %s: %s' % (item['host'], item['error']))
        self.populate(records, groups, time_now(), self._rescan_days(store))

    def _rescan_days(self, store):
        """The option, else the rescan period the last cycle recorded, else the cycle's default."""
        if self.get_option('rescan_days') is not None:
            return self.get_option('rescan_days')
        try:
            recorded = recorded_rescan_days(store.read_entry(HISTORY_KEY))
        except StoreError as exc:
            self.display.warning('roamscan.qualys.laptops: cannot read the rescan period of the last cycle (%s); '
                                 'roaming_overdue uses the default' % to_text(exc))
            recorded = None
        return recorded or SETTINGS['rescan_days'][1]['default']

    def populate(self, records, alias_groups, now, rescan_days):
        strict = self.get_option('strict')
        for group in GROUPS:
            self.inventory.add_group(group)
        views = device_views(records, alias_groups, now, rescan_days)
        named = [(host_name(view), view) for view in views]
        taken = {}
        for host, view in named:
            taken[host] = taken.get(host, 0) + 1
        for host, view in named:
            if taken[host] > 1 and host != view['device']:
                self.display.warning('roamscan.qualys.laptops: device name %s is used by more than one device; '
                                     'this one is listed as %s' % (host, view['device']))
                host = view['device']
            view['records'] = {item['key']: records[item['key']] for item in view['identities'] if item['key'] in records}
            # the record of the identity holding the device's address, under the device's own fields: for a device of
            # one identity the variable is release 0.x's record plus the device fields
            variable = dict(records.get(view['holding_identity']) or {}, **view)
            self.inventory.add_host(host, group='roaming_clients')
            self.inventory.set_variable(host, 'roamscan', variable)
            self.inventory.set_variable(host, 'ansible_connection', CONNECTION)
            if view['present']:
                self.inventory.add_child('roaming_present', host)
            if view['pending']:
                self.inventory.add_child('roaming_pending', host)
            elif view['overdue']:
                self.inventory.add_child('roaming_overdue', host)
            if len(view['identities']) > 1:
                self.inventory.add_child('roaming_linked', host)
            variables = {'roamscan': variable, 'inventory_hostname': host}
            self._set_composite_vars(self.get_option('compose'), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, host, strict=strict)


def host_name(view):
    """A device's inventory name: its alias-list name, the 0.x name of its smallest MAC, or its id."""
    if view['name'] not in [item['key'] for item in view['identities']]:
        return view['name'].replace(' ', '_')
    macs = sorted(item['value'] for item in view['identities'] if item['kind'] == 'mac')
    return mac_host_name(macs[0]) if macs else view['device']
