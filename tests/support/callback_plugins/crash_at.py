# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: SIGKILL the whole ansible-playbook run at one point of the playbook.

    ROAMSCAN_CRASH_AT=before:<task name>   when that task starts, before any host runs it
    ROAMSCAN_CRASH_AT=after:<task name>    when its first result (ok, changed or skipped) comes back
    ROAMSCAN_CRASH_MARK=<file>             written (the point's name) right before the kill

The kill goes to the run's process group (the test starts ansible-playbook in a session of its own), so
the workers die with the controller, as with a power cut or the OOM killer. Production code knows
nothing of it: it is enabled only by the tests' ANSIBLE_CALLBACK_PLUGINS / ANSIBLE_CALLBACKS_ENABLED.
"""
from __future__ import annotations

import os
import signal

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: crash_at
type: aggregate
short_description: SIGKILL the run before or after a named task (tests only)
description: Kills the ansible-playbook process group at the point ROAMSCAN_CRASH_AT names.
requirements: [enabled in callbacks_enabled]
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'crash_at'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        when, dummy, self._task_name = os.environ.get('ROAMSCAN_CRASH_AT', '').partition(':')
        self._when = when if self._task_name else None

    def _crash(self, when, task):
        if self._when != when or task.get_name() != self._task_name:
            return
        mark = os.environ.get('ROAMSCAN_CRASH_MARK')
        if mark:
            with open(mark, 'w', encoding='utf-8') as handle:
                handle.write('%s:%s\n' % (when, self._task_name))
                handle.flush()
                os.fsync(handle.fileno())
        os.killpg(os.getpgrp(), signal.SIGKILL)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._crash('before', task)

    def v2_runner_on_ok(self, result):
        self._crash('after', result._task)

    def v2_runner_on_skipped(self, result):
        self._crash('after', result._task)
