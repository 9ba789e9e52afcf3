# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Event-driven roamscan end to end (root): a real dnsmasq with the roamscan hook in a network
namespace, busybox udhcpc laptops, the Qualys simulator on loopback, a controller directory
(ansible.cfg with a durable jsonfile fact cache, inventory) and real ansible-rulebook running the
shipped rulebook ``roamscan.qualys.scan_arriving_laptops``.

    with EdaLab(workdir, ansible_env, clients=2) as lab:
        lab.start_rulebook()
        laptop = lab.dhcp.run_udhcpc(0, hostname='laptop-1'); laptop.wait_for('bound')
        lab.wait_for_launches(1)

Used by tests/e2e/test_eda_lease_to_launch.py and bench/lease_to_launch.py. Processes are
tracked by PID (ansible-rulebook in its own session, stopped by its process group).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import yaml

import cycle_lab
from collection_import import module_utils
from hook import render_hook
from netns import DhcpLab, wait_until
from qualys_sim import QualysSimulator

JAVA_HOME = '/usr/lib/jvm/java-17-openjdk-amd64'
RULEBOOK = 'roamscan.qualys.scan_arriving_laptops'
spool_record = module_utils('_spool_record')
# Inventory variables, as an EDA user sets them (ansible-rulebook passes -i to the cycle). Each arrival is its own
# launch while the earlier scans still run (the simulator's clock stands still), hence room for several.
SCAN_SETTINGS = dict(cycle_lab.SCAN_SETTINGS, roamscan_max_active_scans=10)


def stop_session(proc):
    """Stop ``proc`` (started with start_new_session) and everything it started: its process group, by its PID."""
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(15)


class EdaLab:

    def __init__(self, workdir, ansible_env, clients=1, python=None):
        self.workdir = Path(workdir)
        self.env = dict(ansible_env)
        self.python = python or str(Path(self.env['PATH'].split(':')[0]) / 'python')
        self.dhcp = DhcpLab(self.workdir / 'net', clients=clients)
        self.sim = QualysSimulator()
        self.spool_dir = self.workdir / 'spool'
        self.lease_file = self.workdir / 'net' / 'dnsmasq.leases'
        self.facts_dir = self.workdir / 'facts'
        self.rulebook = None
        self.rulebook_log = self.workdir / 'ansible-rulebook.log'

    # -- lifecycle
    def __enter__(self):
        self.workdir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.workdir, 0o755)
        self.sim.start()
        try:
            self.dhcp.__enter__()
            self.spool_dir.mkdir(mode=0o755)
            hook = render_hook(self.workdir / 'roamscan-lease-hook', self.spool_dir, 'dnsmasq')
            # script-on-renewal: what the dhcp_hook role configures, so renewals reach the spool too
            self.dhcp.start_dnsmasq(self.lease_file, '--dhcp-script=%s' % hook, '--script-on-renewal')
            self._write_controller()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.stop_rulebook()
        self.dhcp.close()
        self.sim.stop()

    def _write_controller(self):
        (self.workdir / 'ansible.cfg').write_text(
            '[defaults]\nfact_caching = ansible.builtin.jsonfile\nfact_caching_connection = %s\n'
            'fact_caching_timeout = 0\n' % self.facts_dir)
        local = {'ansible_connection': 'local', 'ansible_python_interpreter': self.python}
        inventory = {'all': {
            'hosts': {'localhost': dict(local, **SCAN_SETTINGS)},
            'children': {'dhcp_servers': {'hosts': {'dhcp1': dict(
                local, roamscan_dhcp_server='dnsmasq', roamscan_spool_dir=str(self.spool_dir),
                roamscan_lease_file=str(self.lease_file))}}}}}
        (self.workdir / 'inventory.yml').write_text(yaml.safe_dump(inventory))
        (self.workdir / 'roamscan.laptops.yml').write_text('plugin: roamscan.qualys.laptops\n')
        # The store of ansible.cfg above (scheduled runs, laptops inventory): run_playbook's own is per run.
        (self.workdir / 'eda-vars.yml').write_text(yaml.safe_dump({
            'roamscan_spool_dir': str(self.spool_dir),
            'roamscan_fact_cache': {'plugin': 'ansible.builtin.jsonfile', 'connection': str(self.facts_dir), 'timeout': 0}}))
        self.env.update({
            'ANSIBLE_CONFIG': str(self.workdir / 'ansible.cfg'), 'JAVA_HOME': JAVA_HOME,
            'QUALYS_API_URL': self.sim.url, 'QUALYS_USERNAME': self.sim.username, 'QUALYS_PASSWORD': self.sim.password,
        })

    # -- ansible-rulebook
    def start_rulebook(self, timeout=90):
        handle = open(self.rulebook_log, 'ab')
        try:
            self.rulebook = subprocess.Popen(
                ['ansible-rulebook', '-r', RULEBOOK, '-i', str(self.workdir / 'inventory.yml'),
                 '--vars', str(self.workdir / 'eda-vars.yml'), '-v'],
                cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, stdout=handle, stderr=subprocess.STDOUT,
                start_new_session=True)
        finally:
            handle.close()

        def ready():
            if self.rulebook.poll() is not None:
                raise AssertionError('ansible-rulebook exited (rc=%s):\n%s' % (self.rulebook.returncode, self.log()[-4000:]))
            return 'Waiting for events' in self.log()
        wait_until(ready, timeout, what='ansible-rulebook to start')

    def stop_rulebook(self):
        stop_session(self.rulebook)

    def log(self):
        return self.rulebook_log.read_text(errors='replace') if self.rulebook_log.exists() else ''

    def cycle_runs(self):
        """Cycle runs ansible-rulebook started and finished (each ends with one PLAY RECAP)."""
        return self.log().count('PLAY RECAP')

    def wait_for_cycle_runs(self, count, timeout=90):
        wait_until(lambda: self.cycle_runs() >= count or self._rulebook_died(), timeout, interval=0.1,
                   what='%d finished cycle run(s); ansible-rulebook log:\n%s' % (count, self.log()[-3000:]))

    # -- observations
    def launches(self):
        return [call for call in self.sim.state.calls if call['api'] == 'scan:launch' and call['status'] == 200]

    def wait_for_launches(self, count, timeout=60):
        """Monotonic time at which ``count`` successful launch calls had reached the simulator."""
        wait_until(lambda: len(self.launches()) >= count or self._rulebook_died(), timeout, interval=0.02,
                   what='%d launch call(s) in the simulator; ansible-rulebook log:\n%s' % (count, self.log()[-3000:]))
        if self._rulebook_died():
            raise AssertionError('ansible-rulebook exited:\n%s' % self.log()[-4000:])
        return time.monotonic()

    def _rulebook_died(self):
        return self.rulebook is not None and self.rulebook.poll() is not None

    def spool_records(self, mac):
        """Kinds of every hook record for ``mac``, in spool order (rotated segments, then current)."""
        names = sorted(p.name for p in self.spool_dir.iterdir() if p.name.startswith('seg.')) + ['current']
        kinds = []
        for name in names:
            path = self.spool_dir / name
            if path.exists():
                for line in path.read_bytes().split(b'\n'):
                    if line:
                        event = spool_record.parse_spool_line(line)
                        if event.mac == mac:
                            kinds.append(event.kind)
        return kinds

    def remembered_laptops(self, run_ansible):
        """Hosts and records of the durable fact cache, as the laptops inventory plugin lists them."""
        proc = run_ansible('ansible-inventory', '-i', str(self.workdir / 'roamscan.laptops.yml'), '--list',
                           env={'ANSIBLE_CONFIG': self.env['ANSIBLE_CONFIG']}, check=True)
        hostvars = json.loads(proc.stdout, object_hook=cycle_lab.unwrap_unsafe).get('_meta', {}).get('hostvars', {})
        return {host: variables.get('roamscan') for host, variables in hostvars.items()}
