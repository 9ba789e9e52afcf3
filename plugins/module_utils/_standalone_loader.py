# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Import this collection's module_utils where Ansible's collection loader does not run.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only, and it imports nothing of the collection, so it can be loaded by path.
ansible-rulebook runs event sources with runpy, and the test labs and bench scripts run from
the source tree: there ``ansible_collections.roamscan.qualys`` is not importable, yet the
module_utils files import each other by that name. ``install()`` adds a meta-path finder (last,
so a real installation still wins) that maps the package prefix to this directory.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import os
import sys

PACKAGE = 'ansible_collections.roamscan.qualys.plugins.module_utils'
_PARENTS = ('ansible_collections', 'ansible_collections.roamscan', 'ansible_collections.roamscan.qualys',
            'ansible_collections.roamscan.qualys.plugins')


class _PackageLoader(importlib.abc.Loader):
    """An empty package: its submodules are found through its search locations."""

    def create_module(self, spec):
        return None

    def exec_module(self, module):
        return None


class ModuleUtilsFinder(importlib.abc.MetaPathFinder):
    """Finds PACKAGE in ``directory`` and its parent packages as empty packages."""

    def __init__(self, directory):
        self.directory = directory

    def find_spec(self, fullname, path=None, target=None):
        if fullname == PACKAGE:
            locations = [self.directory]
        elif fullname in _PARENTS:
            locations = []
        else:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, _PackageLoader(), is_package=True)
        spec.submodule_search_locations = locations
        return spec


def _importable():
    try:
        return importlib.util.find_spec(PACKAGE) is not None
    except ImportError:
        return False


def install(directory=None):
    """Make PACKAGE importable from ``directory`` (default: the one holding this file) unless it
    already is. Returns whether a finder was added."""
    if _importable():
        return False
    directory = os.path.abspath(directory or os.path.dirname(__file__))
    sys.meta_path.append(ModuleUtilsFinder(directory))
    return True
