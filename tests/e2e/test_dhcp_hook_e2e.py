# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: the dhcp_hook role deploys the hook for a real Kea / ISC dhcpd / dnsmasq in a
network namespace, real udhcpc clients get, renew, release, decline and abandon leases, and
lease_events (run by ansible inside the server namespace) reports the right events.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e -n 3   (root)
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from collection_import import module_utils
from netns import DhcpLab, dhcpd_config, kea_dhcp4_config, wait_until

spool_record = module_utils('_spool_record')
pytestmark = [pytest.mark.root, pytest.mark.slow]

HOOK = '/usr/local/lib/roamscan/roamscan-lease-hook'
SPOOL = '/var/spool/roamscan'
DECLINE_MAC = '02:77:00:00:0d:ec'
SAFE = re.compile(r'^[A-Za-z0-9][A-Za-z0-9.-]{0,62}$')


@pytest.fixture
def workdir():
    """A world-traversable temp dir (the daemons run as _kea / dnsmasq); removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix='roamscan-e2e-'))
    os.chmod(path, 0o755)
    yield path
    subprocess.run(['umount', '-q', str(path / 'root' / SPOOL.lstrip('/'))], check=False)
    shutil.rmtree(path, ignore_errors=True)


def hostile_names(marker):
    return {0: 'x;touch %s;$(id)' % marker,
            1: 'q"u\'o`touch %s`,te' % marker,
            2: 'new\nline;touch %s' % marker}


def inventory(lab):
    """Inventory whose 'server' runs every module inside the lab's server namespace."""
    path = lab.workdir / 'inventory.ini'
    path.write_text('[dhcp]\nserver ansible_connection=local ansible_python_interpreter=%s\n'
                    % lab.python_wrapper(sys.executable))
    return str(path)


def deploy(run_ansible, lab, root, server, **variables):
    """Apply the role under the path prefix on the 'server' (real ansible-playbook, no service management)."""
    variables.update(dhcp_hook_server=server, dhcp_hook_root=str(root), dhcp_hook_manage_service=False)
    playbook = lab.workdir / ('deploy-%s.yml' % server)
    playbook.write_text(json.dumps([{'hosts': 'dhcp', 'gather_facts': False,
                                     'roles': [{'role': 'roamscan.qualys.dhcp_hook'}]}]))
    proc = run_ansible('ansible-playbook', '-i', inventory(lab), str(playbook), '-e', json.dumps(variables))
    assert proc.returncode == 0, proc.stdout[-4000:]
    return proc


def lease_events(run_ansible, lab, root, server, lease_file, **options):
    """Run lease_events by ansible on the 'DHCP server' (modules execute inside the server namespace)."""
    return run_reader(run_ansible, lab, 'lease_events',
                      dict(options, server=server, spool_dir=str(root) + SPOOL, lease_file=str(lease_file)))


def presence_events(run_ansible, lab, root, server, lease_file, **options):
    """Run presence_events like lease_events."""
    return run_reader(run_ansible, lab, 'presence_events',
                      dict(options, source=server, source_host='dhcp1', spool_dir=str(root) + SPOOL,
                           table_path=str(lease_file)))


def run_reader(run_ansible, lab, module, options):
    result_file = lab.workdir / (module + '.json')
    playbook = lab.workdir / 'collect.yml'
    playbook.write_text(json.dumps([{
        'hosts': 'dhcp', 'gather_facts': False,
        'tasks': [{'roamscan.qualys.' + module: options, 'register': 'presence'},
                  {'ansible.builtin.copy': {'content': '{{ presence | to_json }}', 'dest': str(result_file), 'mode': '0600'}}],
    }]))
    proc = run_ansible('ansible-playbook', '-i', inventory(lab), str(playbook))
    assert proc.returncode == 0, proc.stdout[-4000:]
    return json.loads(result_file.read_text())


def spool_records(root):
    """Records the hook wrote so far (read-only peek, for waiting)."""
    records = []
    for path in sorted((root / SPOOL.lstrip('/')).glob('*')):
        if path.name == 'current' or path.name.startswith('seg.'):
            for line in path.read_bytes().split(b'\n'):
                try:
                    records.append(spool_record.parse_spool_line(line))
                except spool_record.CorruptRecord:
                    pass
    return records


def kinds_by_mac(events):
    found = {}
    for event in events:
        found.setdefault(event['mac'], []).append(event['kind'])
    return found


def start_server(lab, root, server, run_ansible, lease_time, before_start=lambda: None):
    """Deploy the role for ``server`` and start the daemon with what the role wrote. ``before_start``
    runs in between: a mount made after the start would not reach the daemon's mount namespace."""
    if server == 'kea':
        lease_file = lab.workdir / 'kea-leases4.csv'
        subprocess.run(['chown', '_kea', str(lab.workdir)], check=True)
        (root / 'etc/kea').mkdir(parents=True)
        config = kea_dhcp4_config(lab, lease_file, valid_lifetime=lease_time, reservations=[(DECLINE_MAC, lab.prefix + '.50')])
        deploy(run_ansible, lab, root, 'kea', dhcp_hook_manage_server_config=True, dhcp_hook_kea_config=config)
        before_start()
        lab.start_kea(root / 'etc/kea/kea-dhcp4.conf')
    elif server == 'dhcpd':
        lease_file = lab.workdir / 'dhcpd.leases'
        (root / 'etc/dhcp').mkdir(parents=True)
        (root / 'etc/dhcp/dhcpd.conf').write_text(dhcpd_config(lab, lease_time=lease_time))
        deploy(run_ansible, lab, root, 'dhcpd', dhcp_hook_manage_server_config=True)
        assert 'include "%s/etc/dhcp/roamscan-hook.conf";' % root in (root / 'etc/dhcp/dhcpd.conf').read_text()
        before_start()
        lab.start_dhcpd(root / 'etc/dhcp/dhcpd.conf', lease_file)
    else:
        lease_file = lab.workdir / 'dnsmasq.leases'
        deploy(run_ansible, lab, root, 'dnsmasq')
        before_start()
        lab.start_dnsmasq(lease_file, '--no-ping', '--conf-dir=%s/etc/dnsmasq.d' % root)
    return lease_file


@pytest.mark.parametrize('server, lease_time', [('kea', 6), ('dhcpd', 6), ('dnsmasq', 120)])
def test_lease_renew_release_expiry_and_hostile_names_for_three_clients(server, lease_time, workdir, run_ansible):
    root = workdir / 'root'
    marker = workdir / 'pwned'
    names = hostile_names(marker)
    with DhcpLab(workdir / 'lab', clients=3) as lab:
        lease_file = start_server(lab, root, server, run_ansible, lease_time)
        clients = [lab.run_udhcpc(i, names[i]) for i in range(3)]
        for client in clients:
            client.wait_for('bound')
        first, second, third = clients
        # renew only once the lease itself is recorded: dnsmasq collapses a queued event of a lease
        # with the next one (its man page), which would merge the 'add' and the renewal
        wait_until(lambda: {r.mac for r in spool_records(root) if r.kind == 'lease'} >= {c.mac for c in clients}, 15,
                   what='lease records of all clients')
        time.sleep(1.5)  # dnsmasq reports a renewal only if the lease end (1 s resolution) moved

        first.renew()
        first.wait_for('renew')
        wait_until(lambda: [r for r in spool_records(root) if r.mac == first.mac and r.kind == 'renew'], 10,
                   what='renew record')
        first.release()
        first.wait_for('deconfig', count=2)  # the first deconfig is at udhcpc start
        first.stop()
        second.vanish()                      # no release: the server must expire it
        third.release()
        third.wait_for('deconfig', count=2)
        third.stop()

        if server == 'kea':
            # DHCPDECLINE: the reserved address is already in use (ARP-probed by udhcpc -a)
            lab.add_client_address(0, lab.prefix + '.50')
            lab.set_client_mac(2, DECLINE_MAC)
            decliner = lab.run_udhcpc(2, 'declinebox', '-a', name='udhcpc-decline')
            wait_until(lambda: [r for r in spool_records(root) if r.kind == 'decline'], 20, what='decline record')
            decliner.stop()

        wait_until(lambda: [r for r in spool_records(root) if r.mac == second.mac and r.kind == 'expire'],
                   lease_time + 30, interval=1, what='expiry of the abandoned lease')

        result = lease_events(run_ansible, lab, root, server, lease_file)
        kinds = kinds_by_mac(result['events'])
        assert kinds[first.mac][0] == 'lease' and 'renew' in kinds[first.mac] and kinds[first.mac][-1] == 'release'
        assert kinds[second.mac][0] == 'lease' and kinds[second.mac][-1] == 'expire'
        assert kinds[third.mac][0] == 'lease' and kinds[third.mac][-1] == 'release'
        assert set(kinds[second.mac]) <= {'lease', 'renew', 'expire'}  # udhcpc renews by itself at T/2
        if server == 'kea':
            assert kinds[DECLINE_MAC] == ['lease', 'decline']  # ACKed, then ARP shows it taken
            assert [e['ip'] for e in result['events'] if e['kind'] == 'decline'] == [lab.prefix + '.50']
        assert {e['server'] for e in result['events']} == {server}
        assert result['skipped_lines'] == {'count': 0, 'reasons': {}}
        ips = {c.mac: {e['ip'] for e in result['events'] if e['mac'] == c.mac} for c in clients}
        assert all(len(v) == 1 and v <= {'%s.%d' % (lab.prefix, n) for n in range(100, 151)} for v in ips.values())

        # hostile names: nothing ran, every record is whole, names are safe or absent
        assert not marker.exists()
        for event in result['events']:
            assert event['hostname'] is None or SAFE.match(event['hostname'])
            assert re.match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$', event['time'])
        hexed = [r.hostname_hex for r in spool_records(root) if r.hostname_hex]
        if server != 'kea':  # Kea strips the characters itself; dhcpd and dnsmasq pass them raw
            assert {bytes.fromhex(h).decode() for h in hexed} >= {names[0], names[1], names[2]}

        # the lease table says the same from the server's own database
        table = {lease['mac']: lease for lease in result['leases']}
        assert second.mac not in table or table[second.mac]['state'] in ('expired', 'free')
        assert first.mac not in table or table[first.mac]['state'] in ('released', 'free')

        # presence_events reads the same real spool and table as observations; its run acknowledges
        # nothing, so lease_events' cursor still holds, and either module's cursor serves the other
        observed = presence_events(run_ansible, lab, root, server, lease_file)
        seen = [(o['id'], o['identity'], o['why'], o['ip'], o['time']) for o in observed['observations']]
        assert seen[:len(result['events'])] == [
            (e['id'], {'kind': 'mac', 'value': e['mac']}, e['kind'], e['ip'], e['time']) for e in result['events']]
        assert {(o['source']['kind'], o['source']['host'], o['authority']) for o in observed['observations']} == {
            (server, 'dhcp1', 'table')}
        assert [(o['identity']['value'], o['ip']) for o in observed['table']] == [
            (lease['mac'], lease['ip']) for lease in result['leases'] if lease['mac']]
        assert all((o['event'] == 'seen') == (o['why'] == 'active') for o in observed['table'])
        assert observed['skipped_lines']['count'] == 0

        # acknowledged events are gone, new ones still come
        again = lease_events(run_ansible, lab, root, server, lease_file, ack=result['cursor'], include_leases=False)
        assert again['events'] == [] and again['changed'] is True
        latecomer = lab.run_udhcpc(0, 'laptop-late', name='udhcpc-late')
        latecomer.wait_for('bound')
        wait_until(lambda: [r for r in spool_records(root) if r.hostname == 'laptop-late'], 10, what='late lease')
        final = lease_events(run_ansible, lab, root, server, lease_file, ack=again['cursor'])
        late = [(e['mac'], e['kind'], e['hostname']) for e in final['events']]
        assert late[0] == (first.mac, 'lease', 'laptop-late')
        # a lease of a few seconds may renew or run out before a loaded machine reads it: only its own events follow
        assert {(mac, kind) for mac, kind, _name in late[1:]} <= {(first.mac, 'renew'), (first.mac, 'expire')}
        late_states = [lease['state'] for lease in final['leases'] if lease['ip'] == latecomer.address()]
        if late[-1][1] == 'expire':
            assert late_states in ([], ['expired'], ['free'])
        else:
            assert late_states == ['active']


@pytest.mark.parametrize('server, failure', [('kea', 'unwritable'), ('dhcpd', 'disk-full'), ('dnsmasq', 'disk-full'),
                                             ('dhcpd', 'unwritable')])
def test_broken_spool_keeps_dhcp_working_and_the_lease_table_recovers_presence(server, failure, workdir, run_ansible):
    root = workdir / 'root'
    spool = root / SPOOL.lstrip('/')

    def break_spool():
        if failure == 'disk-full':
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'size=64k,mode=0700', 'roamscan-e2e-full', str(spool)], check=True)
            with open(spool / 'filler', 'wb', buffering=0) as filler:
                try:
                    while True:
                        filler.write(b'\0' * 4096)
                except OSError:
                    pass
        elif server == 'kea':
            os.chown(spool, 0, 0)  # no longer the hook user _kea's
        else:
            # dhcpd's hook runs as root, which ignores modes: a read-only file system over the spool
            subprocess.run(['mount', '-t', 'tmpfs', '-o', 'ro,size=16k', 'roamscan-e2e-ro', str(spool)], check=True)

    with DhcpLab(workdir / 'lab', clients=2) as lab:
        lease_file = start_server(lab, root, server, run_ansible, 120, before_start=break_spool)
        clients = [lab.run_udhcpc(i, 'laptop-%d' % i) for i in range(2)]
        for client in clients:
            client.wait_for('bound', timeout=15)
        clients[0].renew()
        clients[0].wait_for('renew')
        if failure == 'disk-full':
            (spool / 'filler').unlink()  # room for lease_events' own state, not for the lost records
        elif server != 'kea':
            subprocess.run(['umount', str(spool)], check=True)
        result = lease_events(run_ansible, lab, root, server, lease_file)
        recorded = {e['mac'] for e in result['events']}
        active = {lease['mac']: lease for lease in result['leases'] if lease['state'] == 'active'}
        for client in clients:
            assert client.address() is not None
            assert active[client.mac]['ip'] == client.address()
        assert recorded == set()  # the hook could not write; the lease table is the only witness
        subprocess.run(['umount', '-q', str(spool)], check=False)
        assert spool_records(root) == []  # and it wrote nowhere else (e.g. under the mount)
