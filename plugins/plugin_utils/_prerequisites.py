# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the controller needs before the scan cycle changes anything: ansible-core and the Python packages.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
"""

from __future__ import annotations

import importlib
import sys

from ansible.module_utils.compat.version import LooseVersion
from ansible.release import __version__ as ANSIBLE_CORE_VERSION

MINIMUM_ANSIBLE_CORE = '2.19.0'
# import name: Debian package that provides it
CONTROLLER_PACKAGES = {'requests': 'python3-requests', 'defusedxml': 'python3-defusedxml'}


def missing_prerequisites():
    """Why this controller cannot run the cycle, one sentence per missing piece saying how to install it."""
    problems = []
    if LooseVersion(ANSIBLE_CORE_VERSION) < LooseVersion(MINIMUM_ANSIBLE_CORE):
        problems.append('roamscan.qualys needs ansible-core %s or later, this is %s: %s -m pip install "ansible-core>=%s"'
                        % (MINIMUM_ANSIBLE_CORE, ANSIBLE_CORE_VERSION, sys.executable, MINIMUM_ANSIBLE_CORE))
    for name, debian in CONTROLLER_PACKAGES.items():
        try:
            importlib.import_module(name)
        except ImportError as exc:
            problems.append('the Python package %s cannot be imported by the controller\'s Python %s (%s): install it '
                            'there with %s -m pip install %s (Debian\'s system Python: apt-get install %s; an AWX '
                            'execution environment: add it to its Python requirements)'
                            % (name, sys.executable, exc, sys.executable, name, debian))
    return problems
