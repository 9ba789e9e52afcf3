# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import (
    InvalidIp,
    InvalidMac,
    mac_from_host,
    mac_host_name,
    normalize_ip,
    normalize_mac,
)


@pytest.mark.parametrize('raw, expected', [
    ('2:77:0:0:a:1', '02:77:00:00:0a:01'),          # ISC dhcpd's unpadded form
    ('02:77:00:00:0A:01', '02:77:00:00:0a:01'),
    ('02-77-00-00-0a-01', '02:77:00:00:0a:01'),
    ('0277.0000.0a01', '02:77:00:00:0a:01'),
    ('027700000a01', '02:77:00:00:0a:01'),
    (' 02:77:00:00:0a:01\n', '02:77:00:00:0a:01'),
])
def test_normalize_mac_accepts_server_forms(raw, expected):
    assert normalize_mac(raw) == expected


@pytest.mark.parametrize('raw', [
    '', '02:77:00:00:0a', '02:77:00:00:0a:01:02', '02:77:00:00:0g:01', '002:77:00:00:0a:01',
    '02:77:00:00:0a:01;id', '02.77.00.00.0a.01', None, 42,
])
def test_normalize_mac_rejects_garbage(raw):
    with pytest.raises(InvalidMac):
        normalize_mac(raw)


def test_normalize_ip():
    assert normalize_ip(' 10.77.0.100 ') == '10.77.0.100'


@pytest.mark.parametrize('raw', ['10.77.0', '10.77.0.256', '0.0.0.0', '224.0.0.1', '255.255.255.255',
                                 '10.77.0.1;id', '::1', '010.1.2.3x', None])
def test_normalize_ip_rejects(raw):
    with pytest.raises(InvalidIp):
        normalize_ip(raw)


def test_mac_host_name_is_inventory_safe():
    assert mac_host_name('2:77:0:0:a:1') == 'mac-027700000a01'


@pytest.mark.parametrize('host, mac', [
    ('mac-027700000a01', '02:77:00:00:0a:01'),
    ('mac-027700000A01', None),
    ('laptop1', None),
    ('mac-027700000a01x', None),
])
def test_mac_from_host_inverts_mac_host_name(host, mac):
    assert mac_from_host(host) == mac


def test_normalize_ip_keeps_the_rules_of_the_ipaddress_module():
    """The fast check accepts exactly what ipaddress.IPv4Address accepts, less multicast, 0.0.0.0 and broadcast."""
    import ipaddress
    import random
    rng = random.Random(5)
    samples = ['010.1.1.1', '1.2.3.04', '0.0.0.0', '00.1.2.3', '239.255.255.255', '240.0.0.1', '223.255.255.255',
               '1.2.3.256', '255.255.255.254', '0.0.0.1', '10.0.0.0']
    samples += ['.'.join(rng.choice(['0', '00', '1', '09', '10', '127', '224', '239', '255', '256', '999', '007']) for dummy in range(4))
                for dummy in range(3000)]
    for text in samples:
        try:
            address = ipaddress.IPv4Address(text)
            expected = None if address.is_multicast or address.is_unspecified or text == '255.255.255.255' else str(address)
        except ValueError:
            expected = None
        try:
            got = normalize_ip(text)
        except InvalidIp:
            got = None
        assert got == expected, text


def test_normalized_macs_are_returned_as_they_are_and_only_they():
    assert normalize_mac('02:77:00:00:0a:01') == '02:77:00:00:0a:01'
    assert normalize_mac('02:77:00:00:0a:01\n') == '02:77:00:00:0a:01'
    assert normalize_mac('02:77:00:00:0A:01') == '02:77:00:00:0a:01'
