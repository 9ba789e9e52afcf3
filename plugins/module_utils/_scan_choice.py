# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which option profile and which scanners a launch uses: the one check of that choice.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
qualys_scan_launch checks its options with it, and the scan cycle its settings before anything is
recorded, so a cycle never stores a launch intent that the launch would refuse.
"""

from __future__ import annotations

OPTION_PROFILE_CHOICES = ('option_profile', 'option_profile_id')
SCANNER_SELECTORS = ('scanner', 'scanner_ids', 'default_scanner', 'scanners_in_ag')


class InvalidScanChoice(ValueError):
    """An option profile or scanner choice Qualys would refuse, or that could not reach laptops."""


def check_scan_choice(values, names=None):
    """Raise InvalidScanChoice unless ``values`` choose one option profile, one way to pick scanners, a valid priority and split.

    ``values`` maps qualys_scan_launch's option names to their values (unset: None or false);
    ``names`` maps those option names to what the user set (the cycle's variable names) for messages.
    """
    names = names or {}

    def shown(option):
        return names.get(option, option)

    profiles = [name for name in OPTION_PROFILE_CHOICES if values.get(name) is not None]
    if len(profiles) != 1:
        raise InvalidScanChoice('set exactly one of %s (got %s)'
                                % (' / '.join(shown(name) for name in OPTION_PROFILE_CHOICES),
                                   ', '.join(shown(name) for name in profiles) or 'neither'))
    chosen = [name for name in SCANNER_SELECTORS if values.get(name)]
    if len(chosen) > 1:
        raise InvalidScanChoice('choose one scanner selector, got: %s' % ', '.join(shown(name) for name in chosen))
    if chosen and values.get('external_scanners'):
        raise InvalidScanChoice('%s=true contradicts %s' % (shown('external_scanners'), shown(chosen[0])))
    if not chosen and not values.get('external_scanners'):
        raise InvalidScanChoice('no scanner selector (%s): Qualys would use external scanners, which cannot reach '
                                'laptops on internal networks. Set one, or %s=true if that is really wanted.'
                                % (', '.join(shown(name) for name in SCANNER_SELECTORS), shown('external_scanners')))
    if values.get('priority') is not None and not 0 <= values['priority'] <= 9:
        raise InvalidScanChoice('%s must be 0-9, got %d' % (shown('priority'), values['priority']))
    if values.get('max_targets_per_scan') is not None and values['max_targets_per_scan'] < 1:
        raise InvalidScanChoice('%s must be at least 1' % shown('max_targets_per_scan'))
