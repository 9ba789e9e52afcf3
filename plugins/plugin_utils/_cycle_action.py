# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared base of the scan cycle's stage actions (plugins/action/cycle_*.py).

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

A stage action validates its arguments, reads the cycle settings from the task's variables
(plugin_utils/_settings.py), opens the laptop store, runs its stage and writes back only the
records the stage changed. In check mode it opens the store read-only, sees the records the
earlier stages would have written and passes them on with its own (plugin_utils/_check_mode.py).
Stages raise typed errors; only run() turns them into a failed result.
"""

from __future__ import annotations

import abc

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.roamscan.qualys.plugins.module_utils._time import now as time_now
from ansible_collections.roamscan.qualys.plugins.plugin_utils._budget import BUDGET_KEY, InvalidBudget, empty_state, parse_budget
from ansible_collections.roamscan.qualys.plugins.plugin_utils._check_mode import WOULD_STORE, WouldBeStore, carried_records
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import LINKED_HOLDERS, AliasError, Devices, kind_of, read_alias_settings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._remember import PresenceResult
from ansible_collections.roamscan.qualys.plugins.plugin_utils._settings import VARIABLES, InvalidSettings, read_settings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._store import StoreError, open_store


# cycle_check's registered result: it carries the cycle lease (``lock``) the later stages renew
CHECKED_RESULT = 'roamscan_checked'
# the settings naming the inventory groups the collect play reads (roamscan_cycle_presence_hosts)
PRESENCE_GROUPS = ('dhcp_group', 'vpn_group', 'dc_group', 'neighbor_group', 'receiver_group', 'vpn_log_group')


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
        # check mode: the records the earlier stages would have written (None: not in check mode)
        self.would_store = None
        self._groups = None
        self._budget = None
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

    def budget(self):
        """The API budget governor's state (read once per stage); unreadable: a fresh one, with a warning."""
        if self._budget is None:
            try:
                self._budget = parse_budget(self.store.read_entry(BUDGET_KEY))
            except (StoreError, InvalidBudget) as exc:
                self.warnings.append('Cannot read the API budget (%s), planning without it: %s' % (BUDGET_KEY, exc))
                self._budget = empty_state()
        return self._budget

    def devices(self):
        """The devices of the loaded records, after loading the records of every identity aliased or linked to them
        (an authenticated link is kept on its holder's record only): a device is due by the newest scan of any of its
        identities, held now or not."""
        groups = self.alias_groups()
        asked = set()
        while True:
            named = {key for group in groups if any(key in self.records for key in group['identities'])
                     for key in group['identities']}
            named |= {link['identity'] for record in self.records.values() for link in record.get('links') or ()}
            missing = named - set(self.records) - asked
            linkable = {key for key in named | set(self.records) if kind_of(key) in LINKED_HOLDERS} - asked
            if not missing and not linkable:
                return Devices(self.records, groups)
            asked |= missing | linkable
            if missing:
                self.load(self.store.get(missing))
            if linkable:
                self.load(self.store.linking(linkable))

    def load(self, records):
        """Add records read from the store to the ones this stage works on."""
        self.records.update(records)
        return self.records

    def blocked(self):
        """Identities whose stored entry could not be read: never overwritten, reported until someone fixes it."""
        return self.store.unreadable() if self.store else set()

    def mark_changed(self, keys):
        blocked = self.blocked()
        for key in blocked & set(keys):
            self.records.pop(key, None)
        self.changed |= set(keys) - blocked

    def lease(self):
        """The cycle lease cycle_check took for this run (None: none taken, e.g. in check mode)."""
        checked = self.registered(CHECKED_RESULT)
        return checked.get('lock') if isinstance(checked, dict) else None

    def variable(self, name, default=None):
        """A task variable, rendered."""
        if name not in self._task_vars:
            return default
        return self._templar.template(self._task_vars[name])

    def registered(self, name):
        """The result this host registered as ``name`` (an earlier stage's or a Qualys module's), None if unset; taken
        as it is, never templated (see host_variable)."""
        return self._task_vars.get(name)

    def dhcp_servers(self):
        """Inventory hosts of the cycle's DHCP group."""
        return self.group_hosts('dhcp_group')

    def vpn_servers(self):
        """Inventory hosts of the cycle's VPN group."""
        return self.group_hosts('vpn_group')

    def presence_hosts(self):
        """Every host the cycle collects from (the groups of PRESENCE_GROUPS), each once."""
        return sorted({host for setting in PRESENCE_GROUPS for host in self.group_hosts(setting)})

    def group_hosts(self, setting):
        """Inventory hosts of the group the setting ``setting`` names (``dhcp_group``, ``dc_group``, ...)."""
        return list((self._task_vars.get('groups') or {}).get(self.settings[setting]) or [])

    def collected(self, name):
        """What the presence hosts' collect tasks registered as ``name`` (kind ``''``) or ``name_<kind>``, one task per
        source kind: ``({kind: [(host, result)]}, {kind: {host: why not}})``.

        A skipped task is left out; a failed or unreachable one is not reported under its kind, and a host without
        any result (the collect play never reached it) under kind None. Results are taken as they are, never
        templated (see host_variable), each as a _remember.PresenceResult: parsed into observations once, whichever
        of the stage's steps reads it first.
        """
        hostvars = self._task_vars.get('hostvars') or {}
        reports, not_reported = {}, {}
        for host in self.presence_hosts():
            variables = {}
            if host in hostvars:
                variables = hostvars.raw_get(host) if hasattr(hostvars, 'raw_get') else hostvars[host]
            results = {variable[len(name) + 1:]: value for variable, value in sorted(variables.items())
                       if (variable == name or variable.startswith(name + '_'))
                       and not (isinstance(value, dict) and value.get('skipped'))}
            if not results:
                not_reported.setdefault(None, {})[host] = 'no result (the host was not reached)'
            for kind, result in results.items():
                if registered_ok(result):
                    reports.setdefault(kind, []).append((host, PresenceResult(host, result)))
                else:
                    reason = result.get('msg') if isinstance(result, dict) else None
                    not_reported.setdefault(kind, {})[host] = reason or 'no result (the host was not reached)'
        return reports, not_reported

    def host_variable(self, host, name, registered=False):
        """Variable ``name`` of inventory host ``host``, rendered in that host's context (hostvars does it); None if unset.

        A ``registered`` result (a DHCP server's presence_events) is data, never a template: it is taken as it is, since
        walking a result of a thousand observations through the template engine costs seconds per stage.
        """
        hostvars = self._task_vars.get('hostvars') or {}
        if host not in hostvars:
            return None
        if registered and hasattr(hostvars, 'raw_get'):
            return hostvars.raw_get(host).get(name)
        return hostvars[host].get(name)


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
        check_mode = self._task.check_mode
        try:
            settings, settings_error = self._settings(task_vars)
            store = None
            if self.USES_STORE:
                store = open_store(settings['fact_cache'], require_durable=self.REQUIRE_DURABLE, read_only=check_mode)
            stage = Stage(store, settings, args, time_now(), task_vars, self._templar)
            stage.settings_error = settings_error
            if check_mode:
                stage.would_store = carried_records(task_vars)
                stage.store = store and WouldBeStore(store, stage.would_store)
            elif store is not None and self.RENEWS_LEASE:
                store.renew_lease(stage.lease())   # a cycle that lost its lease stops here (LockLost)
            result.update(self.run_stage(stage))
            stored = 0
            if check_mode and store is not None:
                result[WOULD_STORE] = stage.store.carried(stage.records, stage.changed)
            elif stage.changed:
                stored = store.save(stage.records, stage.changed)
            result.update(self.after_save(stage, not check_mode))
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
