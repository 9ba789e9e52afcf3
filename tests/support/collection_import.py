# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""This tree's module_utils for test labs, functional/e2e tests and bench scripts, which run
without the collection installed:

    spool_record = module_utils('_spool_record')
"""
from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

MODULE_UTILS = Path(__file__).resolve().parents[2] / 'plugins' / 'module_utils'


def module_utils(name):
    """The module ``plugins/module_utils/<name>.py`` of this tree, imported by its collection name."""
    spec = importlib.util.spec_from_file_location('roamscan_qualys_standalone_loader',
                                                  MODULE_UTILS / '_standalone_loader.py')
    loader = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loader)
    loader.install(str(MODULE_UTILS))
    return importlib.import_module('%s.%s' % (loader.PACKAGE, name))
