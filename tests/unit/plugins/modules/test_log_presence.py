# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""log_presence: VPN session observations over syslog files that rotate (rename, copytruncate)."""
from __future__ import annotations

import os
import shutil

from ansible_collections.roamscan.qualys.plugins.modules.log_presence import collect

NOW = 1796115600  # 2026-12-01T09:00:00Z


def asa(n):
    return ('2026-12-01T08:%02d:00+00:00 asa1 : %%ASA-6-722051: Group <vpn> User <user%d> IP <198.51.100.%d> '
            'IPv4 Address <10.88.0.%d> IPv6 address <::> assigned to session\n' % (n % 60, n, n, n)).encode()


class Log:
    def __init__(self, tmp_path):
        self.path = str(tmp_path / 'vpn.log')
        self.state = str(tmp_path / 'log_presence.json')

    def write(self, data, name=None):
        with open(name or self.path, 'ab') as handle:
            handle.write(data)
        os.utime(name or self.path, (NOW, NOW))

    def run(self, ack=None, check_mode=False, **extra):
        params = dict(paths=[self.path], state_file=self.state, ack=ack, include_events=True,
                      parsers=['cisco_asa', 'globalprotect', 'fortigate', 'ocserv'], max_session=3600,
                      source_host='loghost', settle_seconds=30, max_events=20000)
        params.update(extra)
        return collect(params, check_mode, NOW)

    def users(self, result):
        return [o['identity']['value'] for o in result['observations']]


def test_observation_shape_and_session_rule(tmp_path):
    log = Log(tmp_path)
    log.write(asa(1) + b'2026-12-01T08:30:00+00:00 asa1 : %ASA-4-113019: Group = vpn, Username = user1, IP = '
              b'198.51.100.1, Session disconnected. Session Type: SSL, Duration: 0h:29m:00s\n')
    result = log.run()
    start, end = result['observations']
    assert start['source'] == {'kind': 'syslog', 'host': 'loghost'}
    assert (start['event'], start['identity'], start['ip'], start['authority']) == (
        'start', {'kind': 'vpn_user', 'value': 'user1'}, '10.88.0.1', 'log')
    assert (start['time'], start['until']) == ('2026-12-01T08:01:00Z', '2026-12-01T09:01:00Z')
    assert start['detail'] == {'parser': 'cisco_asa', 'message_id': '722051'}
    assert (end['event'], end['ip'], end['until']) == ('end', None, None)


def test_at_least_once_then_acknowledged(tmp_path):
    log = Log(tmp_path)
    log.write(asa(1))
    first = log.run()
    assert log.users(first) == ['user1']
    assert log.users(log.run()) == ['user1']  # not acknowledged: delivered again
    log.write(asa(2))
    assert log.users(log.run(ack=first['cursor'])) == ['user2']


def test_rename_rotation_and_torn_last_line(tmp_path):
    log = Log(tmp_path)
    log.write(asa(1))
    first = log.run()
    torn = asa(2)
    log.write(asa(3) + torn[:40])  # the writer is mid-line
    os.rename(log.path, log.path + '.1')
    os.utime(log.path + '.1', (NOW, NOW))  # still being written: the reader waits in it
    second = log.run(ack=first['cursor'])
    assert log.users(second) == ['user3']
    with open(log.path + '.1', 'ab') as handle:
        handle.write(torn[40:])
    os.utime(log.path + '.1', (NOW - 120, NOW - 120))
    log.write(asa(4))
    third = log.run(ack=second['cursor'])
    assert log.users(third) == ['user2', 'user4']
    assert third['skipped_lines']['count'] == 0


def test_copytruncate_rotation(tmp_path):
    log = Log(tmp_path)
    log.write(asa(1))
    first = log.run()
    log.write(asa(2))
    shutil.copyfile(log.path, log.path + '.1')
    os.utime(log.path + '.1', (NOW - 60, NOW - 60))
    with open(log.path, 'r+b') as handle:
        handle.truncate(0)
    log.write(asa(3))
    assert log.users(log.run(ack=first['cursor'])) == ['user2', 'user3']


def test_parsers_filter_and_counts(tmp_path):
    log = Log(tmp_path)
    log.write(asa(1) + b'noise\n' + b'\xff\xfe\n')
    result = log.run(parsers=['fortigate'])
    assert result['observations'] == []
    assert result['ignored']['reasons'] == {'other_message': 1, 'other_parser': 1}
    assert result['skipped_lines']['reasons'] == {'not_utf8': 1}


def test_check_mode_creates_no_state(tmp_path):
    log = Log(tmp_path)
    log.write(asa(1))
    assert log.users(log.run(check_mode=True)) == ['user1']
    assert not os.path.exists(log.state)
