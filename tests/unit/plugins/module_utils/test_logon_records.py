# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""DC logon lines (Samba JSON audit, NXLog and Winlogbeat Windows events) -> observations."""
from __future__ import annotations

import json
import os
import random

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._logon_records import (
    AddressFilter,
    ExclusionError,
    Ignored,
    SkippedLine,
    client_address,
    event_time,
    local_addresses,
    parse_logon_line,
)

FIXTURES = os.path.join(os.path.dirname(__file__), 'fixtures', 'logon')
NO_FILTER = AddressFilter()


def fixture_lines(name):
    with open(os.path.join(FIXTURES, name), 'rb') as handle:
        return [line.rstrip(b'\n') for line in handle]


def outcome(line, address_filter=NO_FILTER):
    try:
        return parse_logon_line(line, address_filter, 'dc1')
    except (SkippedLine, Ignored) as exc:
        return '%s:%s' % (type(exc).__name__, exc.reason)


def samba_line(**auth):
    fields = {'eventId': 4624, 'status': 'NT_STATUS_OK', 'remoteAddress': 'ipv4:10.77.0.101:49152',
              'serviceDescription': 'Kerberos KDC', 'clientAccount': 'LAPTOP01$@ROAM.TEST', 'workstation': None,
              'becameAccount': 'LAPTOP01$', 'becameDomain': 'ROAM'}
    fields.update(auth)
    record = {'timestamp': '2026-12-01T09:15:06.694718+0000', 'type': 'Authentication', 'Authentication': fields}
    return ('  ' + json.dumps(record)).encode()


# ------------------------------------------------------------------ real Samba 4.17 output
def test_samba_kdc_fixture_gives_user_and_machine_observations_and_drops_the_failed_kinit():
    results = [outcome(line) for line in fixture_lines('samba-4.17-kdc.json')]
    assert results[2] == 'Ignored:failed'
    good = [r for r in results if isinstance(r, dict)]
    assert [(o['identity']['kind'], o['identity']['value'], o['ip']) for o in good] == [
        ('ad_user', 'administrator', '10.89.0.50')] * 2 + [('ad_machine', 'LAPTOP01$', '10.89.0.50')] * 2
    machine = good[-1]
    assert machine['source'] == {'kind': 'samba', 'host': 'dc1'} and machine['why'] == 'tgt'
    assert (machine['event'], machine['authority'], machine['until'], machine['aliases']) == ('seen', 'log', None, {})
    assert machine['time'] == '2026-12-01T09:15:06Z' and machine['hostname'] is None
    assert machine['detail'] == {'event_id': 4624, 'domain': 'ROAM', 'service': 'Kerberos KDC',
                                 'workstation': None, 'dc': None}
    assert len({o['id'] for o in good}) == 4


def test_samba_debug_header_before_the_json_is_tolerated():
    header = b'[2026/12/01 09:15:06.694718,  3] ../../auth/auth_log.c:635(log_json)'
    assert outcome(header) == 'Ignored:debug_header'
    assert outcome(header + b' ' + samba_line().strip())['identity']['value'] == 'LAPTOP01$'


def test_samba_identity_is_the_account_the_dc_mapped_not_what_the_client_asked_for():
    line = samba_line(clientAccount='administrator', becameAccount='LAPTOP01$', becameDomain='ROAM')
    assert outcome(line)['identity'] == {'kind': 'ad_machine', 'value': 'LAPTOP01$'}


def test_samba_ntlm_logon_records_client_supplied_workstation_hex_safe():
    line = samba_line(serviceDescription='SMB2', workstation='EVIL;$(reboot)', becameAccount='alice',
                      remoteAddress='ipv4:10.77.0.102:50211')
    observation = outcome(line)
    assert observation['identity'] == {'kind': 'ad_user', 'value': 'alice'} and observation['why'] == 'logon'
    assert observation['detail']['workstation'] == '%' + 'EVIL;$(reboot)'.encode().hex()
    assert observation['hostname'] is None
    assert outcome(samba_line(serviceDescription='SMB2', workstation='LAPTOP07'))['hostname'] == 'LAPTOP07'


@pytest.mark.parametrize('status, event_id', [('NT_STATUS_WRONG_PASSWORD', 4625), ('NT_STATUS_OK', 4625),
                                              ('NT_STATUS_ACCOUNT_DISABLED', 4624)])
def test_samba_failed_authentication_never_counts(status, event_id):
    assert outcome(samba_line(status=status, eventId=event_id)) == 'Ignored:failed'


def test_samba_authorization_records_are_no_logon():
    line = json.dumps({'type': 'Authorization', 'Authorization': {'remoteAddress': 'ipv4:10.77.0.101:1'}}).encode()
    assert outcome(line) == 'Ignored:other_event'


# ------------------------------------------------------------------ Windows via NXLog / Winlogbeat
@pytest.mark.parametrize('name', ['nxlog-wef.json', 'winlogbeat-8.json'])
def test_windows_fixture_gives_tgt_user_and_tgs_machine_and_drops_failures_and_loopback(name):
    results = [outcome(line) for line in fixture_lines(name)]
    assert results[2:] == ['Ignored:other_event', 'Ignored:loopback', 'Ignored:failed']
    tgt, tgs = results[:2]
    assert (tgt['source'], tgt['identity'], tgt['ip']) == (
        {'kind': 'windows', 'host': 'DC01.contoso.local'}, {'kind': 'ad_user', 'value': 'dadmin'}, '10.0.0.12')
    assert (tgt['why'], tgs['why']) == ('tgt', 'service_ticket')
    assert tgt['time'] == '2015-08-07T18:13:46Z'
    assert tgt['detail']['dc'] == 'DC01.contoso.local' and tgt['detail']['event_id'] == 4768
    assert tgs['identity'] == {'kind': 'ad_machine', 'value': 'WIN81$'}
    assert tgs['detail']['domain'] == 'CONTOSO.LOCAL' and tgs['detail']['service'] == 'WIN2008R2$'


def test_winlogbeat_7_integer_event_id_and_audit_failure_keyword():
    record = json.loads(fixture_lines('winlogbeat-8.json')[0])
    record['winlog']['event_id'] = 4768
    assert outcome(json.dumps(record).encode())['identity']['value'] == 'dadmin'
    del record['event']
    record['winlog']['keywords'] = ['Audit Failure']
    assert outcome(json.dumps(record).encode()) == 'Ignored:failed'


# ------------------------------------------------------------------ addresses
@pytest.mark.parametrize('text, expected', [
    ('ipv4:10.1.2.3:49152', '10.1.2.3'),
    ('ipv6:fd00::7:445', 'fd00::7'),
    ('ipv6:[fd00::7]:445', 'fd00::7'),
    ('ipv6:::ffff:10.1.2.3:49152', '10.1.2.3'),
    ('::ffff:10.0.0.12', '10.0.0.12'),
    ('10.0.0.12', '10.0.0.12'),
    ('fe80::1%12', 'fe80::1'),
    ('-', None), ('', None), (None, None), ('unix:/run/samba/x', None),
])
def test_client_address_forms(text, expected):
    address = client_address(text)
    assert (None if address is None else str(address)) == expected


@pytest.mark.parametrize('text', ['ipv4:10.1.2:1', 'ipv4:999.1.2.3:1', 'example.com', 'ipv4:;id:1'])
def test_bad_client_address_is_a_skipped_line(text):
    assert outcome(samba_line(remoteAddress=text)) == 'SkippedLine:bad_address'


@pytest.mark.parametrize('address, reason', [
    ('ipv4:127.0.0.1:1', 'loopback'), ('ipv6:::1:1', 'loopback'), ('ipv4:0.0.0.0:1', 'loopback'),
    ('ipv4:169.254.1.1:1', 'link_local'), ('ipv4:192.0.2.10:1', 'infrastructure'),
    ('ipv4:10.20.0.5:1', 'infrastructure'), ('ipv6:fd00::7:1', 'ipv6'), (None, 'no_address'),
])
def test_dc_loopback_and_infrastructure_addresses_are_dropped(address, reason):
    infrastructure = AddressFilter(['192.0.2.10', '10.20.0.0/29'], own=['10.89.0.1'])
    assert outcome(samba_line(remoteAddress=address), infrastructure) == 'Ignored:%s' % reason
    assert outcome(samba_line(remoteAddress='ipv4:10.89.0.1:88'), infrastructure) == 'Ignored:infrastructure'
    assert outcome(samba_line(remoteAddress='ipv4:10.20.0.8:88'), infrastructure)['ip'] == '10.20.0.8'


def test_exclude_list_with_garbage_is_refused():
    with pytest.raises(ExclusionError, match='not an IP address or CIDR'):
        AddressFilter(['10.0.0.0/33'])


def test_local_addresses_come_from_proc(tmp_path):
    (tmp_path / 'net').mkdir()
    (tmp_path / 'net' / 'fib_trie').write_text('Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 10.89.0.1\n        /32 host LOCAL\n'
                                               '     |-- 10.89.0.255\n        /32 link BROADCAST\n')
    (tmp_path / 'net' / 'if_inet6').write_text('fd000000000000000000000000000001 02 40 00 80 eth0\n')
    assert local_addresses(str(tmp_path)) == ['10.89.0.1', 'fd00::1']
    assert local_addresses(str(tmp_path / 'missing')) == []


# ------------------------------------------------------------------ hostile input
@pytest.mark.parametrize('account, value', [
    ('LAPTOP01$', 'LAPTOP01$'), ('laptop01$@roam.test', 'LAPTOP01$'), ('ROAM\\Alice', 'alice'),
    ('bob;rm -rf /', '%' + 'bob;rm -rf /'.encode().hex()),
    ('ev\x1b[31mil', '%' + 'ev\x1b[31mil'.encode().hex()),
    ('$(id)$', '%' + '$(ID)$'.encode().hex()),
    ('x' * 300, '%' + ('x' * 128).encode().hex()),
])
def test_account_names_are_kept_safe_or_hex(account, value):
    observation = outcome(samba_line(becameAccount=account, mappedAccount=None, clientAccount=account))
    assert observation['identity']['value'] == value


@pytest.mark.parametrize('account', ['', '-', 'ANONYMOUS LOGON'])
def test_anonymous_logons_are_no_identity(account):
    assert outcome(samba_line(becameAccount=account, mappedAccount=None, clientAccount=account)) == 'Ignored:anonymous'


@pytest.mark.parametrize('line, reason', [
    (b'{"type": "Authentication", "Authentication": {', 'bad_json'),
    (b'not json at all', 'not_json'),
    (b'[1, 2]', 'not_json'),
    (b'{"timestamp": "x"}', 'unknown_shape'),
    (b'\xff\xfe{"a": 1}', 'not_json'),
    (b'{"a": "\xff"}', 'not_utf8'),
    (b'{"EventID": "lots", "IpAddress": "10.0.0.1"}', 'bad_event_id'),
    (b'{"winlog": {"event_id": 4768}}', 'bad_shape'),
])
def test_malformed_lines_are_skipped_with_a_reason(line, reason):
    assert outcome(line) == 'SkippedLine:%s' % reason


@pytest.mark.parametrize('when', ['yesterday', '2026-13-01T00:00:00Z', 12, '2026-12-01'])
def test_bad_time_is_a_skipped_line(when):
    line = json.loads(samba_line())
    line['timestamp'] = when
    assert outcome(json.dumps(line).encode()) == 'SkippedLine:bad_time'


@pytest.mark.parametrize('text, expected', [
    ('2026-12-01T09:15:06.694718+0000', '2026-12-01T09:15:06Z'),
    ('2026-12-01T10:15:06+01:00', '2026-12-01T09:15:06Z'),
    ('2015-08-07T18:13:46.074535600Z', '2015-08-07T18:13:46Z'),
    ('2015-08-07 18:13:46', '2015-08-07T18:13:46Z'),
])
def test_event_time_forms(text, expected):
    assert event_time(text) == expected


def test_seeded_fuzz_never_raises_anything_but_a_counted_outcome():
    rng = random.Random(20261201)
    seeds = fixture_lines('samba-4.17-kdc.json') + fixture_lines('nxlog-wef.json') + fixture_lines('winlogbeat-8.json')
    alphabet = b'{}[]":,\\ \x00\x1b\n$;`0123456789abcdefipv:.@-'
    outcomes = set()
    for _round in range(3000):
        data = bytearray(rng.choice(seeds))
        for _edit in range(rng.randint(1, 6)):
            choice = rng.random()
            position = rng.randrange(len(data) + 1)
            if choice < 0.4:
                data[position:position] = bytes([rng.choice(alphabet)])
            elif choice < 0.7 and data:
                del data[min(position, len(data) - 1)]
            else:
                del data[position:]
        result = outcome(bytes(data))
        if isinstance(result, dict):
            assert result['identity']['kind'] in ('ad_machine', 'ad_user')
            assert all(32 < ord(c) < 127 for c in result['identity']['value'])
            result = 'observation'
        outcomes.add(result.split(':')[0])
    assert outcomes == {'observation', 'SkippedLine', 'Ignored'}
