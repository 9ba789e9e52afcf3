# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Strict simulator of the Qualys VM API for tests, demos and benchmarks (see README.md)."""
from __future__ import annotations

from .model import FAULT_KINDS, SimState
from .server import ADMIN_PREFIX, QualysSimulator

__all__ = ['ADMIN_PREFIX', 'FAULT_KINDS', 'QualysSimulator', 'SimState']
