# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The allow-list of the active probes: what is refused before anything is sent."""
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._allow_list import (
    ProbeRefused,
    parse_networks,
    refuse_outside,
    sweep_addresses,
)

ALLOW = parse_networks(['10.77.0.0/24', '10.78.0.16/30'], 'allow')


def test_no_allow_list_refuses_everything():
    with pytest.raises(ProbeRefused, match='explicit allow-list'):
        parse_networks([], 'allow')
    with pytest.raises(ProbeRefused, match='not an IPv4 network'):
        parse_networks(['10.77.0.0/33'], 'allow')


def test_targets_outside_or_malformed_are_all_named():
    refuse_outside(['10.77.0.5', '10.78.0.17'], ALLOW)
    with pytest.raises(ProbeRefused) as refused:
        refuse_outside(['10.77.0.5', '10.78.0.20', '8.8.8.8', 'not-an-ip'], ALLOW)
    assert '10.78.0.20, 8.8.8.8, not-an-ip' in str(refused.value) and 'nothing sent' in str(refused.value)


def test_sweep_takes_hosts_of_allowed_subnets_only():
    assert sweep_addresses(['10.78.0.16/30', '10.78.0.17/32'], ALLOW) == ['10.78.0.17', '10.78.0.18']
    with pytest.raises(ProbeRefused, match='not inside the allow-list'):
        sweep_addresses(['10.77.0.0/23'], ALLOW)
    with pytest.raises(ProbeRefused, match='more than 4096'):
        sweep_addresses(['10.0.0.0/16'], parse_networks(['10.0.0.0/8'], 'allow'))
