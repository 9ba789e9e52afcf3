# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-driven roamscan on VPN connects, with real parts: a real OpenVPN 2.6 server carrying the roamscan hook in a
network namespace, real openvpn clients, and real ansible-rulebook with the shipped rulebook
``roamscan.qualys.scan_arriving_devices`` following the VPN spool. Two laptops connecting within the batch window run
one scan cycle; a reconnect inside ``once_within`` runs none; a third laptop later runs the next.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini -p vpn_fixtures tests/e2e/test_eda_vpn_batch.py   (root)
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from cycle_lab import SCAN_SETTINGS
from eda_lab import JAVA_HOME, stop_session
from hook import render_vpn_hook
from netns import wait_until
from qualys_sim import QualysSimulator
from vpn_fixtures import HOSTILE_CNS, LAPTOP_CN
from vpn_lab import VpnLab

pytestmark = [pytest.mark.root, pytest.mark.slow]

RULEBOOK = 'roamscan.qualys.scan_arriving_devices'
WINDOW = 20
# long enough for a (wrongly) triggered cycle to start and finish on this machine
QUIET_SECONDS = 25


class Controller:
    """ansible-rulebook on the controller, following the VPN server's spool (one host here)."""

    def __init__(self, workdir, ansible_env, spool, status_file):
        self.workdir, self.spool = workdir, spool
        self.sim = QualysSimulator().start()
        self.log_file = workdir / 'ansible-rulebook.log'
        (workdir / 'ansible.cfg').write_text('[defaults]\nfact_caching = ansible.builtin.jsonfile\n'
                                             'fact_caching_connection = %s\nfact_caching_timeout = 0\n' % (workdir / 'facts'))
        local = {'ansible_connection': 'local', 'ansible_python_interpreter': str(Path(ansible_env['PATH'].split(':')[0]) / 'python')}
        (workdir / 'inventory.yml').write_text(yaml.safe_dump({'all': {
            'hosts': {'localhost': dict(local, **SCAN_SETTINGS)},
            # the cycle reads the VPN server the batch came from (a cycle with no presence host is refused)
            'children': {'vpn_servers': {'hosts': {'vpn1': dict(
                local, roamscan_vpn_server='openvpn', roamscan_spool_dir=str(spool), roamscan_vpn_table=str(status_file))}}}}}))
        (workdir / 'eda-vars.yml').write_text(yaml.safe_dump({
            'roamscan_spool_dirs': [str(spool)], 'roamscan_batch_window': WINDOW, 'roamscan_once_within': 900,
            'roamscan_fact_cache': {'plugin': 'ansible.builtin.jsonfile', 'connection': str(workdir / 'facts'), 'timeout': 0}}))
        self.env = dict(ansible_env, ANSIBLE_CONFIG=str(workdir / 'ansible.cfg'), JAVA_HOME=JAVA_HOME,
                        QUALYS_API_URL=self.sim.url, QUALYS_USERNAME=self.sim.username, QUALYS_PASSWORD=self.sim.password)
        self.proc = None

    def start(self):
        with open(self.log_file, 'ab') as handle:
            self.proc = subprocess.Popen(
                ['ansible-rulebook', '-r', RULEBOOK, '-i', str(self.workdir / 'inventory.yml'), '--vars',
                 str(self.workdir / 'eda-vars.yml'), '-v'], cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL,
                stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: 'Waiting for events' in self.log() or self.proc.poll() is not None, 90, what='ansible-rulebook to start')
        assert self.proc.poll() is None, self.log()[-4000:]

    def log(self):
        return self.log_file.read_text(errors='replace') if self.log_file.exists() else ''

    def cycle_runs(self):
        return self.log().count('PLAY RECAP')

    def wait_for_cycle_runs(self, count, timeout=120):
        wait_until(lambda: self.cycle_runs() >= count or self.proc.poll() is not None, timeout, interval=0.2,
                   what='%d cycle run(s); ansible-rulebook log:\n%s' % (count, self.log()[-3000:]))
        assert self.proc.poll() is None, self.log()[-4000:]

    def close(self):
        stop_session(self.proc)
        self.sim.stop()


@pytest.fixture(name='vpn')
def vpn_fixture(vpn_certificates, ansible_env):
    workdir = Path(tempfile.mkdtemp(prefix='budget-eda-vpn-'))
    os.chmod(workdir, 0o755)
    spool = workdir / 'spool'
    spool.mkdir(mode=0o777)
    controller = None
    try:
        with VpnLab(workdir / 'lab', vpn_certificates) as lab:
            hook = render_vpn_hook('openvpn', workdir / 'roamscan-openvpn-hook', spool)
            config = workdir / 'server.conf'
            status = workdir / 'openvpn-status.log'
            config.write_text(lab.openvpn_config(hook=hook, status_file=status))
            lab.start_openvpn(config)
            controller = Controller(workdir, ansible_env, spool, status)
            controller.start()
            yield lab, controller
    finally:
        if controller is not None:
            controller.close()
        shutil.rmtree(workdir, ignore_errors=True)


def test_vpn_connects_within_the_window_run_one_cycle_and_a_reconnect_runs_none(vpn):
    lab, controller = vpn
    # both clients start at once, so both connects fall in one window however slow a TLS handshake is under load
    first, second = (lab.openvpn_client(name, configure_tunnel=False) for name in (LAPTOP_CN, 'laptop-vpn-02'))
    first.wait_connected(timeout=60)
    second.wait_connected(timeout=60)
    opened = time.monotonic()
    controller.wait_for_cycle_runs(1)
    assert time.monotonic() - opened >= WINDOW - 2     # the batch waited for its window, not per connect
    time.sleep(QUIET_SECONDS)
    assert controller.cycle_runs() == 1                 # both connects, one cycle

    first.disconnect()
    lab.openvpn_client(LAPTOP_CN, configure_tunnel=False).wait_connected()   # the same certificate again
    time.sleep(WINDOW + QUIET_SECONDS)
    assert controller.cycle_runs() == 1                 # throttled per identity

    lab.openvpn_client(HOSTILE_CNS[-1], configure_tunnel=False).wait_connected()
    controller.wait_for_cycle_runs(2)
