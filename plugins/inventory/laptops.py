# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: laptops
short_description: Roaming laptops remembered by roamscan, from the Ansible fact cache
version_added: 0.1.0
description:
  - Lists one host per laptop recorded by the C(roamscan.qualys.scan_overdue) cycle, named like C(mac-027700000a01),
    read from the configured Ansible fact cache (the same store the cycle's stage actions, such as
    M(roamscan.qualys.cycle_remember), write).
  - Each host carries its record in the host variable C(roamscan) (C(ip), C(hostname), C(last_seen), C(last_scanned),
    C(pending), ...), so reports and your own plays can use C(hostvars).
  - "Laptops are never connected to - their C(ansible_connection) is
    R(roamscan.qualys.record_only,ansible_collections.roamscan.qualys.record_only_connection), which refuses every
    connection. Use them from C(hosts: localhost) plays through C(groups) and C(hostvars)."
  - "Groups: C(roaming_clients) (all), C(roaming_present) (lease active now), C(roaming_overdue) (never scanned or last
    scanned more than O(rescan_days) ago, and no scan pending), C(roaming_pending) (a roamscan scan is pending).
    Add your own with O(compose), O(groups) and O(keyed_groups)."
  - Corrupt cache entries are skipped with a warning.
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
    description: Days after the last completed scan when a laptop is overdue again; use the value the cycle uses.
    type: int
    default: 30
notes:
  - The file must end in C(laptops.yml) or C(laptops.yaml).
  - The fact cache is configured as usual (C(fact_caching), C(fact_caching_connection), C(fact_caching_timeout=0)).
"""

EXAMPLES = r"""
# inventory/roamscan.laptops.yml
plugin: roamscan.qualys.laptops
rescan_days: 14
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
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import is_overdue, is_present
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import open_store

CONNECTION = 'roamscan.qualys.record_only'


class InventoryModule(BaseInventoryPlugin, Constructable):

    NAME = 'roamscan.qualys.laptops'

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(('laptops.yml', 'laptops.yaml'))

    def parse(self, inventory, loader, path, cache=True):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            store = open_store(self.get_option('fact_cache'), require_durable=False)
            records = store.all()
        except Exception as exc:  # pylint: disable=broad-exception-caught
            raise AnsibleParserError('roamscan.qualys.laptops: cannot read the fact cache: %s' % to_text(exc)) from exc
        for item in store.corrupt:
            self.display.warning('roamscan.qualys.laptops: skipped corrupt fact cache entry %s: %s' % (item['host'], item['error']))
        self.populate(records, time_now())

    def populate(self, records, now):
        rescan_days = self.get_option('rescan_days')
        strict = self.get_option('strict')
        for group in ('roaming_clients', 'roaming_present', 'roaming_overdue', 'roaming_pending'):
            self.inventory.add_group(group)
        # hosts are MAC records; identities of other kinds (VPN, domain controller) have no host name of their own
        for mac in sorted(key for key, record in records.items() if record.get('mac')):
            record = records[mac]
            host = mac_host_name(mac)
            self.inventory.add_host(host, group='roaming_clients')
            self.inventory.set_variable(host, 'roamscan', record)
            self.inventory.set_variable(host, 'ansible_connection', CONNECTION)
            if is_present(record, now):
                self.inventory.add_child('roaming_present', host)
            if record.get('pending'):
                self.inventory.add_child('roaming_pending', host)
            elif is_overdue(record, now, rescan_days):
                self.inventory.add_child('roaming_overdue', host)
            variables = {'roamscan': record, 'inventory_hostname': host}
            self._set_composite_vars(self.get_option('compose'), variables, host, strict=strict)
            self._add_host_to_composed_groups(self.get_option('groups'), variables, host, strict=strict)
            self._add_host_to_keyed_groups(self.get_option('keyed_groups'), variables, host, strict=strict)
