# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The spool record format (_spool_record): rs1 and rs2 parsing and formatting, and a seeded fuzz."""
from __future__ import annotations

import random
import string

import pytest

from ansible_collections.roamscan.qualys.plugins.module_utils._spool import Spool, SpoolFollower
from ansible_collections.roamscan.qualys.plugins.module_utils._spool_record import (
    ID_KINDS,
    KIND_EVENTS,
    SOURCES,
    BootClock,
    CorruptRecord,
    SpoolRecord,
    format_spool_record,
    parse_spool_line,
)

BOOT = 'ba9dc015-a0ea-493d-a762-4adb86d990c9'
BTIME = 1795840000
CLOCK = BootClock({BOOT: BTIME})
# Every reason a CorruptRecord may carry (docs/dhcp_hook.md lists them; skipped_lines counts them).
REASONS = {'not_ascii', 'not_text', 'too_long', 'not_printable', 'unknown_version', 'truncated', 'bad_server',
           'bad_source', 'bad_kind', 'bad_boot_id', 'bad_uptime', 'bad_pid', 'bad_id_kind', 'bad_mac',
           'bad_identity', 'bad_ip', 'bad_hostname', 'bad_expires', 'bad_aliases'}


def rs1(n, kind='lease', server='kea', hostname=None, expires=None):
    return format_spool_record(server, kind, '02:77:00:00:0a:%02x' % n, '10.77.0.%d' % (100 + n),
                               hostname=hostname, expires=expires, boot_id=BOOT, uptime=100.0 + n, pid=4000 + n)


def rs2(n, source='openvpn', kind='connect', id_kind='vpn_cert', identity=None, aliases=None, hostname=None):
    return format_spool_record(source, kind, identity or 'CN=laptop-%d' % n, '10.8.0.%d' % (10 + n),
                               hostname=hostname, expires='+3600', boot_id=BOOT, uptime=200.0 + n, pid=5000 + n,
                               id_kind=id_kind, aliases=aliases, version='rs2')


# ------------------------------------------------------------------ rs1
def test_parse_rs1_record_written_by_dhcpd_hook():
    line = 'rs1 %s 432.76 8241 dhcpd lease 02:77:00:00:0a:01 10.77.0.100 pc-17 +30 .\n' % BOOT
    record = parse_spool_line(line, clock=CLOCK)
    assert record.as_dict() == {
        'id': record.id, 'time': '2026-11-28T04:33:52Z', 'server': 'dhcpd', 'kind': 'lease',
        'mac': '02:77:00:00:0a:01', 'ip': '10.77.0.100', 'hostname': 'pc-17',
        'lease_expires': '2026-11-28T04:34:22Z'}
    assert len(record.id) == 20 and record.id == parse_spool_line(line.encode(), clock=CLOCK).id
    assert (record.version, record.id_kind, record.aliases, record.event) == ('rs1', 'mac', {}, 'start')
    assert record.is_lease_event()


def test_hex_hostname_is_kept_apart_and_never_returned_as_hostname():
    evil = 'x;touch /tmp/pwned;$(id)'
    line = rs1(1, hostname=evil)
    assert ';' not in line and '$' not in line
    record = parse_spool_line(line, clock=CLOCK)
    assert record.hostname is None
    assert bytes.fromhex(record.hostname_hex).decode() == evil


@pytest.mark.parametrize('version', ['rs1', 'rs2'])
@pytest.mark.parametrize('expires, time_offset, kind', [
    (str(BTIME + 100), 101, 'expire'),
    (str(BTIME + 500), 101, 'release'),
    ('-', 101, 'release'),
])
def test_dnsmasq_gone_is_expire_at_lease_end_else_release(version, expires, time_offset, kind):
    identity = '02:77:00:00:0a:01' if version == 'rs1' else 'mac 02:77:00:00:0a:01'
    tail = ' -' if version == 'rs2' else ''
    line = '%s %s %d.00 1 dnsmasq gone %s 10.77.0.100 - %s%s .' % (version, BOOT, time_offset, identity, expires, tail)
    record = parse_spool_line(line, clock=CLOCK)
    assert (record.kind, record.event) == (kind, 'end')


def test_unknown_boot_uses_fallback_time_and_relative_expiry_follows_it():
    other = '00000000-0000-0000-0000-000000000001'
    line = 'rs1 %s 5.00 1 dhcpd lease 02:77:00:00:0a:01 10.77.0.100 - +60 .' % other
    record = parse_spool_line(line, clock=CLOCK, fallback_time=1795847000)
    assert record.time == '2026-11-28T06:23:20Z' and record.lease_expires == '2026-11-28T06:24:20Z'


# ------------------------------------------------------------------ rs2
def test_parse_rs2_vpn_record_with_aliases():
    line = ('rs2 %s 300.50 77 openvpn connect vpn_cert CN=laptop-17 10.8.0.6 laptop-17 +3600 '
            'hwaddr=02:77:00:00:0a:01,platform=win .\n' % BOOT)
    record = parse_spool_line(line, clock=CLOCK)
    assert (record.version, record.source, record.kind, record.event) == ('rs2', 'openvpn', 'connect', 'start')
    assert (record.id_kind, record.id_value, record.mac, record.ip) == ('vpn_cert', 'CN=laptop-17', None, '10.8.0.6')
    assert record.aliases == {'hwaddr': '02:77:00:00:0a:01', 'platform': 'win'}
    assert record.time == '2026-11-28T04:31:40Z' and record.lease_expires == '2026-11-28T05:31:40Z'
    assert not record.is_lease_event()


def test_rs2_dhcp_record_reads_like_its_rs1_twin():
    one = parse_spool_line('rs1 %s 9.00 1 dhcpd renew 2:77:0:0:a:1 10.77.0.100 - - .' % BOOT, clock=CLOCK)
    two = parse_spool_line('rs2 %s 9.00 1 dhcpd renew mac 2:77:0:0:a:1 10.77.0.100 - - - .' % BOOT, clock=CLOCK)
    assert one.as_dict() == dict(two.as_dict(), id=one.id) and one.id != two.id
    assert two.mac == '02:77:00:00:0a:01' and two.is_lease_event() and two.event == 'seen'


def test_hostile_identity_and_alias_values_are_hex_encoded_and_stay_hex():
    evil = 'CN=a b;$(reboot)\n'
    line = rs2(1, identity=evil, aliases={'platform': 'win;rm -rf /', 'hwaddr': '02:77:00:00:0a:01'})
    assert line.count(' ') == 12 and '$' not in line and ';' not in line
    record = parse_spool_line(line, clock=CLOCK)
    assert record.id_value == '%' + evil.encode().hex()
    assert record.aliases == {'platform': '%' + 'win;rm -rf /'.encode().hex(), 'hwaddr': '02:77:00:00:0a:01'}


@pytest.mark.parametrize('source', ['receiver', 'syslog'])
@pytest.mark.parametrize('kind', ['disconnect', 'release', 'expire'])
def test_an_end_of_a_log_source_may_name_no_ip_and_round_trips(source, kind):
    evil = 'DOM\\m\u00fcller $(id);\n'
    line = format_spool_record(source, kind, evil, None, boot_id=BOOT, uptime=400.0, pid=9, id_kind='vpn_user',
                               aliases={'parser': 'cisco_asa'}, version='rs2')
    fields = line.split(' ')
    assert fields[8] == '-' and len(fields) == 13 and '$' not in line and ';' not in line
    record = parse_spool_line(line, clock=CLOCK)
    assert (record.event, record.ip, record.source, record.id_kind) == ('end', None, source, 'vpn_user')
    assert record.id_value == '%' + evil.encode().hex() and record.lease_expires is None
    assert not record.is_lease_event()


@pytest.mark.parametrize('source, kind, version', [
    ('receiver', 'connect', 'rs2'), ('receiver', 'seen', 'rs2'), ('syslog', 'connect', 'rs2'),
    ('openvpn', 'disconnect', 'rs2'), ('kea', 'release', 'rs2'), ('kea', 'release', 'rs1'),
])
def test_format_refuses_a_missing_ip_except_on_an_end_of_a_log_source(source, kind, version):
    identity = '02:77:00:00:0a:01' if source == 'kea' else 'alice'
    with pytest.raises(ValueError, match='may name no IP'):
        format_spool_record(source, kind, identity, None, id_kind='mac' if source == 'kea' else 'vpn_user',
                            version=version)


def test_long_identity_keeps_its_first_128_bytes():
    record = parse_spool_line(rs2(1, identity='é' * 200), clock=CLOCK)
    assert record.id_value == '%' + ('é' * 64).encode().hex()


@pytest.mark.parametrize('kind', sorted(KIND_EVENTS))
def test_every_kind_maps_to_its_event(kind):
    record = parse_spool_line(rs2(1, source='syslog', kind=kind, id_kind='vpn_user', identity='alice@corp'),
                              clock=CLOCK)
    assert record.event == KIND_EVENTS[kind] or (kind == 'gone' and record.kind in ('expire', 'release'))


@pytest.mark.parametrize('source', SOURCES)
@pytest.mark.parametrize('id_kind', ID_KINDS)
def test_every_source_and_identity_kind_round_trips(source, id_kind):
    identity = '02:77:00:00:0a:01' if id_kind == 'mac' else 'S-1-5-21-1$x'
    record = parse_spool_line(rs2(1, source=source, kind='seen', id_kind=id_kind, identity=identity), clock=CLOCK)
    assert (record.source, record.id_kind, record.id_value) == (source, id_kind, identity)


@pytest.mark.parametrize('line, reason', [
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - 17' % BOOT, 'truncated'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.1' % BOOT, 'truncated'),
    ('rs2 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'truncated'),
    ('rs3 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'unknown_version'),
    ('garbage', 'unknown_version'),
    ('', 'unknown_version'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a 10.77.0.100 - - .' % BOOT, 'bad_mac'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.300 - - .' % BOOT, 'bad_ip'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 a;b - .' % BOOT, 'bad_hostname'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 %%7 - .' % BOOT, 'bad_hostname'),
    ('rs1 %s 1.00 1 kea steal 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_kind'),
    ('rs1 %s 1.00 1 kea connect 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_kind'),
    ('rs1 %s 1.00 1 isc lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_server'),
    ('rs1 %s 1.00 1 openvpn lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_server'),
    ('rs1 %s 1.00 x kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_pid'),
    ('rs1 nope 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .', 'bad_boot_id'),
    ('rs1 %s 1.0e3 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT, 'bad_uptime'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 - 12x .' % BOOT, 'bad_expires'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 ' % BOOT + 'a' * 5000 + ' - .', 'too_long'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 pc\t17 - .' % BOOT, 'not_printable'),
    ('rs1 %s 1.00 1 kea lease 02:77:00:00:0a:01 10.77.0.100 pc-17\n - .' % BOOT, 'not_printable'),
    ('rs2 %s 1.00 1 isc connect vpn_cert CN=x 10.8.0.6 - - - .' % BOOT, 'bad_source'),
    ('rs2 %s 1.00 1 openvpn steal vpn_cert CN=x 10.8.0.6 - - - .' % BOOT, 'bad_kind'),
    ('rs2 %s 1.00 1 openvpn connect passport CN=x 10.8.0.6 - - - .' % BOOT, 'bad_id_kind'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert -CN 10.8.0.6 - - - .' % BOOT, 'bad_identity'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert %%ABCD 10.8.0.6 - - - .' % BOOT, 'bad_identity'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert %% 10.8.0.6 - - - .' % BOOT, 'bad_identity'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert %s 10.8.0.6 - - - .' % (BOOT, 'a' * 129), 'bad_identity'),
    ('rs2 %s 1.00 1 openvpn connect mac CN=x 10.8.0.6 - - - .' % BOOT, 'bad_mac'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert CN=x - - - - .' % BOOT, 'bad_ip'),
    # '-' is an IP only in an rs2 end of a log source
    ('rs2 %s 1.00 1 receiver connect vpn_user alice - - - - .' % BOOT, 'bad_ip'),
    ('rs2 %s 1.00 1 receiver seen vpn_user alice - - - - .' % BOOT, 'bad_ip'),
    ('rs2 %s 1.00 1 syslog connect vpn_user alice - - +60 - .' % BOOT, 'bad_ip'),
    ('rs2 %s 1.00 1 openvpn disconnect vpn_cert CN=x - - - - .' % BOOT, 'bad_ip'),
    ('rs2 %s 1.00 1 kea release mac 02:77:00:00:0a:01 - - - - .' % BOOT, 'bad_ip'),
    ('rs1 %s 1.00 1 kea release 02:77:00:00:0a:01 - - - .' % BOOT, 'bad_ip'),
    ('rs2 %s 1.00 1 receiver disconnect vpn_user alice -- - - - .' % BOOT, 'bad_ip'),
    ('rs2 %s 1.00 1 receiver disconnect vpn_user alice%%20 - - - - .' % BOOT, 'bad_identity'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert CN=x 10.8.0.6 - - hwaddr .' % BOOT, 'bad_aliases'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert CN=x 10.8.0.6 - - HW=1 .' % BOOT, 'bad_aliases'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert CN=x 10.8.0.6 - - a=1,a=2 .' % BOOT, 'bad_aliases'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert CN=x 10.8.0.6 - - a=1,,b=2 .' % BOOT, 'bad_aliases'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert CN=x 10.8.0.6 - - a= .' % BOOT, 'bad_aliases'),
    ('rs2 %s 1.00 1 openvpn connect vpn_cert CN=x 10.8.0.6 - - a=$(id) .' % BOOT, 'bad_aliases'),
])
def test_corrupt_lines_raise_with_reason(line, reason):
    with pytest.raises(CorruptRecord) as info:
        parse_spool_line(line, clock=CLOCK)
    assert info.value.reason == reason


@pytest.mark.parametrize('line', [b'rs1 \xff', 'rs1 caf\u00e9', 'rs1 %s 1.00 \u0663 kea lease 02:77:00:00:0a:01 10.77.0.100 - - .' % BOOT])
def test_non_ascii_is_corrupt(line):
    with pytest.raises(CorruptRecord) as info:
        parse_spool_line(line, clock=CLOCK)
    assert info.value.reason == 'not_ascii'


@pytest.mark.parametrize('args, message', [
    (dict(source='openvpn', version='rs1'), 'source'),
    (dict(kind='connect'), 'kind'),
    (dict(id_kind='vpn_cert'), 'rs1 records'),
    (dict(aliases={'a': 'b'}), 'rs1 records'),
    (dict(version='rs2', aliases={'Bad': 'x'}), 'alias name'),
    (dict(version='rs2', aliases={'a': ''}), 'non-empty'),
    (dict(version='rs9'), 'version'),
])
def test_format_refuses_what_no_hook_writes(args, message):
    values = dict(source='kea', kind='lease', identity='02:77:00:00:0a:01', ip='10.77.0.100')
    values.update(args)
    with pytest.raises(ValueError, match=message):
        format_spool_record(**values)


# ------------------------------------------------------------------ fuzz (seeded: reproducible)
HOSTILE = ['', '-', '%', '%zz', '%0', '.', '..', '$(id)', ';', '`x`', '"', "'", '\\', '\x00', '\t', '\r', '\x7f',
           '\u00e9', '\u0663', '\ud800', 'a' * 5000, '9' * 40, '-1', '+', '+-1', '1e9', 'nan', 'inf',
           '999.999.999.999', '10.0.0.0/8', '255.255.255.255', '0.0.0.0', '::1', 'ff:ff:ff:ff:ff:ff:ff',
           'a=b', 'a=b,', '=', ',', 'rs1', 'rs2', ' ', '  ', 'x=%', 'x=' + 'a' * 200, '%' + 'ab' * 200]
SAMPLES = [rs1(1, hostname='pc-1'), rs1(2, kind='gone', server='dnsmasq', expires=str(BTIME + 50)),
           rs2(3, aliases={'hwaddr': '02:77:00:00:0a:03', 'platform': 'linux'}, hostname='laptop-3'),
           rs2(4, source='wireguard', kind='seen', id_kind='wg_key', identity='dGhpcyBpcyBhIGtleQ=='),
           rs2(5, source='kea', kind='lease', id_kind='mac', identity='02:77:00:00:0a:05'),
           format_spool_record('receiver', 'disconnect', 'carol', None, boot_id=BOOT, uptime=206.0, pid=6,
                               id_kind='vpn_user', aliases={'eid': 'abc123'}, version='rs2')]


def mutate(rng, line):
    """A random damage of a valid record line: as text or as bytes."""
    fields = line.rstrip('\n').split(' ')
    how = rng.randrange(7)
    if how == 0:
        fields[rng.randrange(len(fields))] = rng.choice(HOSTILE)
    elif how == 1:
        return line.encode()[:rng.randrange(len(line))]
    elif how == 2:
        position = rng.randrange(len(line))
        return line[:position] + chr(rng.choice([rng.randrange(0x20, 0x7f), rng.randrange(0x110000)])) + line[position:]
    elif how == 3:
        del fields[rng.randrange(len(fields))]
    elif how == 4:
        fields.insert(rng.randrange(len(fields)), rng.choice(HOSTILE))
    elif how == 5:
        return bytes(rng.randrange(256) for _index in range(rng.randrange(0, 600)))
    else:
        fields[rng.randrange(len(fields))] = ''.join(rng.choice(string.printable) for _index in range(rng.randrange(1, 40)))
    text = ' '.join(fields)
    return text.encode('utf-8', 'surrogatepass') if rng.random() < 0.5 else text


def parse_outcome(line):
    """The record, or the reason; any other exception fails the test."""
    try:
        return parse_spool_line(line, clock=CLOCK, fallback_time=BTIME)
    except CorruptRecord as exc:
        assert exc.reason in REASONS, exc.reason
        return exc.reason


def test_fuzzed_lines_are_a_valid_record_or_a_corrupt_record_with_a_known_reason():
    rng = random.Random(20261201)
    outcomes = {'record': 0}
    for _round in range(6000):
        outcome = parse_outcome(mutate(rng, rng.choice(SAMPLES)))
        if isinstance(outcome, SpoolRecord):
            outcomes['record'] += 1
            # whatever passed is as safe as what a hook writes: it formats back to a valid line
            assert outcome.event in ('start', 'seen', 'end')
            if outcome.ip is None:   # only an end of a log source names no IP
                assert outcome.event == 'end' and outcome.source in ('receiver', 'syslog') and outcome.version == 'rs2'
            else:
                assert outcome.ip.count('.') == 3
            assert outcome.hostname is None or ' ' not in outcome.hostname
        else:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # the fuzz reached most checks (a generator that only ever hit one reason would prove little)
    assert len(outcomes) >= 14 and outcomes['record'] > 0, outcomes


def test_fuzzed_values_given_to_the_formatter_always_parse_back():
    rng = random.Random(7)
    alphabet = string.printable + '\u00e9\u0663\u4e2d\U0001f600'
    for _round in range(1500):
        identity = ''.join(rng.choice(alphabet) for _index in range(rng.randrange(1, 300)))
        hostname = ''.join(rng.choice(alphabet) for _index in range(rng.randrange(0, 120)))
        aliases = {'platform': identity[::-1], 'hwaddr': '02:77:00:00:0a:%02x' % rng.randrange(256)}
        line = format_spool_record(rng.choice(SOURCES), rng.choice(sorted(KIND_EVENTS)), identity, '10.1.2.3',
                                   hostname=hostname, boot_id=BOOT, uptime=rng.random() * 1e6, pid=rng.randrange(1 << 31),
                                   id_kind=rng.choice([k for k in ID_KINDS if k != 'mac']), aliases=aliases,
                                   version='rs2')
        assert len(line) < 4096
        record = parse_spool_line(line, clock=CLOCK)
        encoded = identity if identity == record.id_value else '%' + identity.encode()[:128].hex()
        assert record.id_value == encoded
        assert record.hostname in (hostname, None) and (record.hostname or record.hostname_hex or not hostname)


def test_damaged_lines_never_swallow_the_next_record():
    """A spool as the reader sees it: each hook write starts with a newline, whatever came before."""
    rng = random.Random(99)
    chunks, expected = [], []
    for n in range(400):
        damaged = mutate(rng, rng.choice(SAMPLES))
        damaged = damaged if isinstance(damaged, bytes) else damaged.encode('utf-8', 'surrogatepass')
        good = rs2(n % 100, identity='CN=n%d' % n) if n % 2 else rs1(n % 100)
        chunks += [b'\n' + damaged, b'\n' + good.encode()]
        expected.append(parse_spool_line(good, clock=CLOCK).id)
    found = []
    for line in b''.join(chunks).split(b'\n'):
        outcome = parse_outcome(line) if line else None
        if isinstance(outcome, SpoolRecord) and outcome.id in expected:
            found.append(outcome.id)
    assert found == expected


def test_damaged_lines_in_a_spool_cost_no_record_of_the_reader_or_the_follower(tmp_path):
    """The same through the spool protocol: Spool.collect (segments) and SpoolFollower (current)."""
    rng = random.Random(1234)
    follower = SpoolFollower(str(tmp_path), from_start=True, clock=CLOCK)
    expected, followed = [], []
    with open(str(tmp_path / 'current'), 'ab', buffering=0) as spool_file:
        for n in range(300):
            bad = mutate(rng, rng.choice(SAMPLES))
            bad = bad if isinstance(bad, bytes) else bad.encode('utf-8', 'surrogatepass')
            good = rs2(n % 100, identity='CN=s%d' % n) if n % 2 else rs1(n % 100)
            spool_file.write(b'\n' + bad)
            spool_file.write(b'\n' + good.encode())
            expected.append(parse_spool_line(good, clock=CLOCK).id)
            if n % 50 == 0:
                followed += follower.poll()
    followed += follower.poll()
    lines = [line for line in (tmp_path / 'current').read_bytes().split(b'\n') if line]
    batch = Spool(str(tmp_path), clock=CLOCK, ack_grace=0).collect()[0]
    for records in (batch.records, followed):
        assert [r.id for r in records if r.id in expected] == expected
    assert set(batch.skipped) <= REASONS and set(follower.skipped) <= REASONS
    # every line is either a record or counted, none vanishes
    assert sum(batch.skipped.values()) + len(batch.records) == len(lines)
    assert sum(follower.skipped.values()) + len(followed) == len(lines)
    follower.close()
