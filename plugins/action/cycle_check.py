# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_check (documented in plugins/modules/cycle_check.py)."""

from __future__ import annotations

import getpass
import os

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_module import missing_connection_settings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError
from ansible_collections.roamscan.qualys.plugins.plugin_utils._prerequisites import missing_prerequisites
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_lock import LockHeld

VPN_SERVERS = ('openvpn', 'ocserv', 'wireguard')

# the Qualys modules' options and the environment variables they fall back to
QUALYS_ENVIRONMENT = {'api_url': 'QUALYS_API_URL', 'platform': 'QUALYS_PLATFORM', 'username': 'QUALYS_USERNAME',
                      'password': 'QUALYS_PASSWORD'}


class ActionModule(CycleActionBase):

    LAUNCH_SETTINGS = True
    RENEWS_LEASE = False

    def run(self, tmp=None, task_vars=None):
        problems = missing_prerequisites()
        if problems:
            return dict(super(CycleActionBase, self).run(tmp, task_vars), failed=True,
                        msg='The controller cannot run the scan cycle: %s' % '; '.join(problems))
        return super().run(tmp, task_vars)

    def run_stage(self, stage):
        if not stage.presence_hosts():
            raise CycleError(self._no_dhcp_servers(stage))
        connection = stage.variable('roamscan_qualys_connection') or {}
        given = {option: connection.get(option) or os.environ.get(variable) for option, variable in QUALYS_ENVIRONMENT.items()}
        missing = missing_connection_settings(given)
        if missing:
            raise CycleError(missing)
        groups = stage.alias_groups()
        vpn_servers = stage.vpn_servers()
        unknown = ['%s (%r)' % (host, stage.host_variable(host, 'roamscan_vpn_server')) for host in vpn_servers
                   if stage.host_variable(host, 'roamscan_vpn_server') not in VPN_SERVERS]
        if unknown:
            raise CycleError('VPN servers in group %s need roamscan_vpn_server set to one of %s: %s'
                             % (stage.settings['vpn_group'], ', '.join(VPN_SERVERS), ', '.join(unknown)))
        result = {'fact_cache': stage.store.name, 'dhcp_servers': stage.dhcp_servers(), 'vpn_servers': vpn_servers,
                  'presence_hosts': stage.presence_hosts(), 'lock': None, 'took_over': None,
                  'held_elsewhere': None, 'device_aliases': {'devices': len(groups), 'skipped': stage.alias_skipped}}
        if self._task.check_mode:
            return result   # check mode changes nothing, the lease included
        try:
            result['lock'] = stage.store.take_lease(stage.settings['cycle_lock_seconds'], getpass.getuser())
            if result['lock']:
                result['took_over'] = result['lock'].pop('took_over', None)
        except LockHeld as exc:
            if stage.settings['when_locked'] == 'fail':
                raise CycleError('%s; roamscan_when_locked is fail' % exc) from exc
            # skip: this run does nothing and says why; the holder's cycle does the work
            result.update(dhcp_servers=[], vpn_servers=[], presence_hosts=[], held_elsewhere=dict(exc.holder, msg=str(exc)))
        return result

    @staticmethod
    def _no_dhcp_servers(stage):
        group = stage.settings['dhcp_group']
        inventory_groups = stage.variable('groups') or {}
        groups = sorted(name for name in inventory_groups if name not in ('all', 'ungrouped'))
        state = 'has no hosts' if group in inventory_groups else 'is not in the inventory'
        return ('No DHCP servers to read presence from: the inventory group %r (roamscan_dhcp_group) %s, and no VPN '
                'server is in group %r (roamscan_vpn_group). Put the DHCP servers in group %r, each with roamscan_dhcp_server '
                '(kea, dhcpd or dnsmasq), or set roamscan_dhcp_group to the group that holds them; groups in this inventory: %s'
                % (group, state, stage.settings['vpn_group'], group, ', '.join(groups) or 'none'))
