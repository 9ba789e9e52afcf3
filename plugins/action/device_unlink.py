# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.device_unlink (documented in plugins/modules/device_unlink.py)."""

from __future__ import annotations

import getpass

from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase, CycleError
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import InvalidIdentity, parse_identity, unlink
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import StoreError
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store_lock import LockHeld

# long enough for one read and one write; a holder that dies frees the store soon
LEASE_SECONDS = 120


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {
        'identity': {'type': 'str', 'required': True},
        'devices': {'type': 'list', 'elements': 'str', 'default': []},
        'reason': {'type': 'str'},
    }
    # an operator's action between cycles: it takes the lease itself (run_stage), it renews none
    RENEWS_LEASE = False

    def run_stage(self, stage):
        try:
            identity = parse_identity(stage.args['identity'])
            within = {parse_identity(item) for item in stage.args['devices']}
        except InvalidIdentity as exc:
            raise CycleError('device_unlink: %s' % exc) from None
        if not self._task.check_mode:
            self._stage = stage
            try:
                self._holding = stage.store.take_lease(LEASE_SECONDS, getpass.getuser())
            except LockHeld as exc:
                raise CycleError('%s; run device_unlink again when it has ended' % exc) from exc
        # the digests say which records link what, so only those are read
        holders = [key for key, digest in stage.store.digests().items()
                   if any(link['identity'] == identity for link in digest.get('links') or ()) and (not within or key in within)]
        stage.load(stage.store.get(holders))
        before = {key: list(stage.records[key].get('links') or []) for key in sorted(stage.records)}
        removed = unlink(stage.records, identity, stage.now, stage.args['reason'])
        stage.mark_changed({item['record'] for item in removed})
        aliased = next((group['device'] for group in stage.alias_groups() if identity in group['identities']), None)
        if aliased:
            stage.warnings.append('%s is still joined to device %s by the alias list: remove it there to unlink it'
                                  % (identity, aliased))
        result = {'unlinked': removed, 'still_aliased': aliased}
        if self._task.diff and removed:
            changed = sorted({item['record'] for item in removed})
            result['diff'] = [{'before_header': key, 'after_header': key, 'before': {'links': before[key]},
                               'after': {'links': stage.records[key]['links'], 'unlinked': stage.records[key]['unlinked']}}
                              for key in changed]
        return result

    def after_save(self, stage, stored):
        self._release(stage)
        return {}

    def run(self, tmp=None, task_vars=None):
        self._holding = self._stage = None
        try:
            return super().run(tmp, task_vars)
        finally:
            if self._holding and self._stage is not None:   # the stage failed before its records were saved
                self._release(self._stage)

    def _release(self, stage):
        holding, self._holding = self._holding, None
        try:
            if holding:
                stage.store.release_lease(holding)
        except StoreError as exc:
            stage.warnings.append('Cannot release the store lease (it expires in %d s by itself): %s' % (LEASE_SECONDS, exc))
