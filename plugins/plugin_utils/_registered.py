# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registered task results, looped or not.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations


def task_results(registered):
    """The results of each run of a registered task: the items of a loop (the launch runs once per scanner route
    group), else the result itself; ``[]`` for anything that is no registered result."""
    if not isinstance(registered, dict):
        return []
    if isinstance(registered.get('results'), list):
        return [result for result in registered['results'] if isinstance(result, dict)]
    return [registered]
