# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: log-only VPN presence in the real cycle (ansible-playbook against the Qualys simulator).

A real rsyslogd in one namespace receives UDP syslog from a VPN concentrator's namespace (util-linux logger sending
the ASA 722051 line of a session) into a file; the cycle's host of vpn_log_collectors reads it with log_presence. The
tunnel IP is launched only when roamscan_credit_log_presence allows log-only presence, and a credit on it is
flagged as log-based.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_scan_cycle_log_presence.py   (root)
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from cycle_lab import CycleLab, launch_call_ips, launch_calls, summary_of
from log_lab import LogLab, require_tools
from netns import wait_until

pytestmark = [pytest.mark.root, pytest.mark.slow]

SYSLOG_IP, ASA_IP = '10.92.0.1', '10.92.0.2'
TUNNEL_IP = '10.88.0.17'


class SyslogOffice:
    """rsyslogd in the collector namespace of a LogLab writing what the concentrator (its sender namespace) sends to
    ``vpn.log``."""

    def __init__(self, net, log):
        self.net, self.log = net, log

    def concentrator_logs(self, tag, message):
        """The concentrator sends one syslog line over UDP; returns once rsyslog wrote it."""
        lines = self.log.read_text().count('\n') if self.log.exists() else 0
        self.net.send_udp_syslog(tag, message)
        wait_until(lambda: self.log.exists() and self.log.read_text().count('\n') > lines, 60, what='rsyslog to write the line')


@pytest.fixture(name='office')
def office_fixture(ansible_env):
    require_tools('rsyslogd', 'logger')
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-log-cycle-'))
    try:
        with LogLab(workdir / 'syslog', 'srclog', SYSLOG_IP, ASA_IP) as net:
            syslog = SyslogOffice(net, workdir / 'syslog' / 'vpn.log')
            net.start_rsyslog(syslog.log)
            lab = CycleLab(workdir / 'controller', ansible_env)
            lab.add_group_host('vpn_log_collectors', 'syslog1', roamscan_vpn_log_paths=[str(syslog.log)],
                               roamscan_vpn_log_state_file=str(workdir / 'log_presence.json'), roamscan_vpn_log_max_session=3600)
            yield lab, syslog
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def test_an_asa_session_in_syslog_is_launched_only_when_log_presence_may_be_credited(office, qualys_sim):
    lab, syslog = office
    syslog.concentrator_logs('asa', '%%ASA-4-722051: Group <vpn> User <cycle-carol> IP <198.51.100.7> IPv4 Address <%s> '
                                    'IPv6 address <::> assigned to session' % TUNNEL_IP)
    held = lab.run(qualys_sim)   # roamscan_credit_log_presence: false, the default
    assert held.returncode == 0, (held.stdout + held.stderr)[-4000:]
    summary = summary_of(held)
    assert summary['log_sources_reported'] == ['syslog1'] and launch_calls(qualys_sim) == []
    carol = [record for record in lab.records().values() if record.get('identity') == {'kind': 'vpn_user', 'value': 'cycle-carol'}]
    assert len(carol) == 1 and carol[0]['ip'] == TUNNEL_IP and carol[0]['authority'] == 'log'

    allowed = lab.run(qualys_sim, extra_vars={'roamscan_credit_log_presence': True})
    assert allowed.returncode == 0, (allowed.stdout + allowed.stderr)[-4000:]
    calls = launch_calls(qualys_sim)
    assert len(calls) == 1 and launch_call_ips(calls[0]) == [TUNNEL_IP]

    qualys_sim.state.scan_action('*', 'process')
    credited = lab.run(qualys_sim, extra_vars={'roamscan_credit_log_presence': True})
    assert credited.returncode == 0, (credited.stdout + credited.stderr)[-4000:]
    carol = next(record for record in lab.records().values() if record.get('identity') == {'kind': 'vpn_user', 'value': 'cycle-carol'})
    assert carol['last_scanned'] and carol['last_scan_authority'] == 'log'
    assert [str(item) for item in summary_of(credited)['credited_from_log']] == ['vpn_user:cycle-carol']   # counted apart
