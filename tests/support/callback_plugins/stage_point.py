# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test-only callback: at one point of the playbook, SIGKILL the whole ansible-playbook run, or run a command.

    ROAMSCAN_AT=before:<task name>   when that task starts, before any host runs it
    ROAMSCAN_AT=after:<task name>    when its first result (ok, changed or skipped) comes back
    ROAMSCAN_AT_RUN=<JSON argv>      run this (e.g. remount the store read-only) and go on; unset: SIGKILL
    ROAMSCAN_AT_MARK=<file>          written (the point) when the point is reached, before the kill or the command

The kill goes to the run's process group (the test starts ansible-playbook in a session of its own), so the
workers die with the controller, as with a power cut or the OOM killer. Production code knows nothing of it: it
is enabled only by the tests' ANSIBLE_CALLBACK_PLUGINS / ANSIBLE_CALLBACKS_ENABLED.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = '''
name: stage_point
type: aggregate
short_description: SIGKILL the run, or run a command, before or after a named task (tests only)
description: Acts at the point ROAMSCAN_AT names.
requirements: [enabled in callbacks_enabled]
'''


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = 'aggregate'
    CALLBACK_NAME = 'stage_point'
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._point = os.environ.get('ROAMSCAN_AT', '')
        command = os.environ.get('ROAMSCAN_AT_RUN')
        self._command = json.loads(command) if command else None
        self._reached = False

    def _at(self, when, task):
        if self._reached or self._point != '%s:%s' % (when, task.get_name()):
            return
        self._reached = True
        mark = os.environ.get('ROAMSCAN_AT_MARK')
        if mark:
            with open(mark, 'w', encoding='utf-8') as handle:
                handle.write(self._point + '\n')
                handle.flush()
                os.fsync(handle.fileno())
        if self._command:
            subprocess.run(self._command, check=True)
        else:
            os.killpg(os.getpgrp(), signal.SIGKILL)

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._at('before', task)

    def v2_runner_on_ok(self, result):
        self._at('after', result._task)

    def v2_runner_on_skipped(self, result):
        self._at('after', result._task)
