# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_check (documented in plugins/modules/cycle_check.py)."""

from __future__ import annotations

import getpass

from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_lock import LockHeld


class ActionModule(CycleActionBase):

    LAUNCH_SETTINGS = True
    RENEWS_LEASE = False

    def run_stage(self, stage):
        groups = stage.alias_groups()
        result = {'fact_cache': stage.store.name, 'dhcp_servers': stage.dhcp_servers(), 'lock': None,
                  'neighbor_sources': stage.group_hosts('neighbor_group'), 'domain_controllers': stage.group_hosts('dc_group'),
                  'presence_receivers': stage.group_hosts('receiver_group'), 'vpn_log_collectors': stage.group_hosts('vpn_log_group'),
                  'held_elsewhere': None, 'device_aliases': {'devices': len(groups), 'skipped': stage.alias_skipped}}
        if self._task.check_mode:
            return result   # check mode changes nothing, the lease included
        try:
            result['lock'] = stage.store.take_lease(stage.settings['cycle_lock_seconds'], getpass.getuser())
        except LockHeld as exc:
            if stage.settings['when_locked'] == 'fail':
                raise CycleError('%s; roamscan_when_locked is fail' % exc) from exc
            # skip: this run does nothing and says why; the holder's cycle does the work
            result.update(dhcp_servers=[], neighbor_sources=[], domain_controllers=[], presence_receivers=[], vpn_log_collectors=[],
                          held_elsewhere=dict(exc.holder, msg=str(exc)))
        return result
