# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared base of the scan cycle's stage actions (plugins/action/cycle_*.py).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

A stage action validates its arguments, reads the cycle settings from the task's variables
(plugin_utils/_settings.py), opens the laptop store, runs its stage and writes back only the
records the stage changed (nothing in check mode). Stages raise typed errors; only run() turns
them into a failed result.
"""

from __future__ import annotations

import abc

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.roamscan.qualys.plugins.module_utils._time import now as time_now
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import AliasError, Devices, kind_of, read_alias_settings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import VARIABLES, InvalidSettings, read_settings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import StoreError, open_store, record_mac


# cycle_check's registered result: it carries the cycle lease (``lock``) the later stages renew
CHECKED_RESULT = 'roamscan_checked'


class CycleError(Exception):
    """A stage cannot do its work with what it was given; the message says why."""


def registered_ok(result):
    """True for a registered task result that ran and succeeded."""
    return isinstance(result, dict) and not (result.get('failed') or result.get('skipped') or result.get('unreachable'))


class Stage:
    """What one stage works with: settings, arguments, the store, the records it loaded, the time."""

    def __init__(self, store, settings, args, now, task_vars, templar):
        self.store = store
        self.settings = settings
        self.args = args
        self.now = now
        self.records = {}
        self.changed = set()
        self.warnings = []
        self.settings_error = None
        self.alias_skipped = []
        self._groups = None
        self._task_vars = task_vars
        self._templar = templar

    def alias_groups(self):
        """The operator's alias list (read once per stage; skipped entries become warnings)."""
        if self._groups is None:
            try:
                self._groups, skipped = read_alias_settings(self.settings)
            except AliasError as exc:
                raise CycleError(str(exc)) from None
            self.alias_skipped = skipped
            self.warnings += ['Skipped device alias entry %s: %s' % (item['entry'], item['reason']) for item in skipped]
        return self._groups

    def devices(self):
        """The devices of the loaded records, after loading the records of the MACs aliased to them."""
        groups = self.alias_groups()
        wanted = {key for group in groups if any(key in self.records for key in group['identities'])
                  for key in group['identities'] if kind_of(key) == 'mac'}
        if wanted - set(self.records):
            self.load(self.store.get(wanted - set(self.records)))
        return Devices(self.records, groups)

    def load(self, records):
        """Add records read from the store to the ones this stage works on."""
        self.records.update(records)
        return self.records

    def blocked(self):
        """MACs whose stored entry could not be read: never overwritten, reported until someone fixes it."""
        return {record_mac(item['host']) for item in self.store.corrupt} if self.store else set()

    def mark_changed(self, macs):
        blocked = self.blocked()
        for mac in blocked & set(macs):
            self.records.pop(mac, None)
        self.changed |= set(macs) - blocked

    def lease(self):
        """The cycle lease cycle_check took for this run (None: none taken, e.g. in check mode)."""
        checked = self.variable(CHECKED_RESULT)
        return checked.get('lock') if isinstance(checked, dict) else None

    def variable(self, name, default=None):
        """A task variable, rendered."""
        if name not in self._task_vars:
            return default
        return self._templar.template(self._task_vars[name])

    def dhcp_servers(self):
        """Inventory hosts of the cycle's DHCP group."""
        return list((self._task_vars.get('groups') or {}).get(self.settings['dhcp_group']) or [])

    def server_results(self, name, module):
        """``(results, not_reported)`` of the ``module`` result each DHCP server registered as ``name``: ``{server:
        result}`` of those that ran and succeeded, ``{server: why not}`` of the others."""
        results, not_reported = {}, {}
        for server in self.dhcp_servers():
            result = self.host_variable(server, name)
            if registered_ok(result):
                results[server] = result
            else:
                reason = result.get('msg') if isinstance(result, dict) else None
                not_reported[server] = reason or 'no %s result (the server was not reached)' % module
        return results, not_reported

    def host_variable(self, host, name):
        """Variable ``name`` of inventory host ``host`` (a DHCP server's registered result), rendered; None if unset."""
        hostvars = self._task_vars.get('hostvars') or {}
        if host not in hostvars:
            return None
        value = hostvars[host].get(name)
        return self._templar.template(value) if value is not None else None


class CycleActionBase(ActionBase, metaclass=abc.ABCMeta):
    """Run one stage of the cycle; subclasses set ARGUMENT_SPEC and implement run_stage()."""

    TRANSFERS_FILES = False
    _requires_connection = False

    ARGUMENT_SPEC = {}
    # validate the option profile / scanner settings the launch will use
    LAUNCH_SETTINGS = False
    # a store that may forget scan history is refused (reports read any store)
    REQUIRE_DURABLE = True
    USES_STORE = True
    # bad settings fail the stage; the summary reports them and goes on with the defaults
    SETTINGS_REQUIRED = True
    # every stage after cycle_check renews the cycle's lease before it works (cycle_check takes it)
    RENEWS_LEASE = True

    @abc.abstractmethod
    def run_stage(self, stage):
        """Do the stage's work on ``stage``; return the result keys."""

    def after_save(self, stage, stored):
        """Result keys that depend on the changed records being stored (``stored``: written, or nothing to write)."""
        del stage, stored
        return {}

    def _settings(self, task_vars):
        """``(settings, error)``: the settings from the task's variables; on bad ones, the defaults and why."""
        variables = {name: self._templar.template(task_vars[name]) for name in VARIABLES.values() if name in task_vars}
        try:
            return read_settings(variables, launch=self.LAUNCH_SETTINGS), None
        except InvalidSettings as exc:
            if self.SETTINGS_REQUIRED:
                raise
            return read_settings({}), to_text(exc)

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        del tmp
        task_vars = task_vars or {}
        dummy, args = self.validate_argument_spec(argument_spec=self.ARGUMENT_SPEC)
        try:
            settings, settings_error = self._settings(task_vars)
            store = open_store(settings['fact_cache'], require_durable=self.REQUIRE_DURABLE) if self.USES_STORE else None
            stage = Stage(store, settings, args, time_now(), task_vars, self._templar)
            stage.settings_error = settings_error
            if store is not None and self.RENEWS_LEASE and not self._task.check_mode:
                store.renew_lease(stage.lease())   # a cycle that lost its lease stops here (LockLost)
            result.update(self.run_stage(stage))
            stored = 0
            if stage.changed and not self._task.check_mode:
                stored = store.save(stage.records, stage.changed)
            result.update(self.after_save(stage, not self._task.check_mode))
        except (InvalidSettings, StoreError, CycleError) as exc:
            result.update(failed=True, msg=to_text(exc))
            return result
        result.update(now=stage.now, updated=len(stage.changed), stored=stored, changed=bool(stage.changed))
        warnings = ['Skipped corrupt fact cache entry %s: %s' % (item['host'], item['error']) for item in (store.corrupt if store else [])]
        if stage.settings_error:
            warnings.append('%s; this step used the defaults' % stage.settings_error)
        warnings += stage.warnings
        if warnings:
            result['warnings'] = warnings
        return result
