# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._scan_choice import InvalidScanChoice, check_scan_choice


@pytest.mark.parametrize('values', [
    {'option_profile': 'Laptop Light Scan', 'scanner': ['s1']},
    {'option_profile_id': 1002, 'scanners_in_ag': True, 'priority': 0},
    {'option_profile': 'p', 'external_scanners': True, 'max_targets_per_scan': 1},
])
def test_a_valid_choice_passes(values):
    check_scan_choice(values)


@pytest.mark.parametrize('values, message', [
    ({'scanner': ['s1']}, 'set exactly one of option_profile / option_profile_id'),
    ({'option_profile': 'p'}, 'no scanner selector .*external scanners, which cannot reach laptops'),
    ({'option_profile': 'p', 'scanner_ids': [1], 'scanners_in_ag': True}, 'choose one scanner selector, got: scanner_ids, scanners_in_ag'),
    ({'option_profile': 'p', 'default_scanner': True, 'external_scanners': True}, 'external_scanners=true contradicts default_scanner'),
    ({'option_profile': 'p', 'scanner': ['s1'], 'priority': -1}, 'priority must be 0-9, got -1'),
])
def test_an_invalid_choice_is_refused_with_the_reason(values, message):
    with pytest.raises(InvalidScanChoice, match=message):
        check_scan_choice(values)
