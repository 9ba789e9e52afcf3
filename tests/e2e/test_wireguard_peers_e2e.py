# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""End to end: wireguard-go on a server and three peers in network namespaces; two peers shake
hands, one never does. wireguard_peers (real ansible-playbook, run inside the server namespace)
reports exactly the two as "seen" at their /32, never leaks a private key, and never claims a
silent peer is gone.

Run: .venv/py312/bin/python -m pytest -c tests/pytest.ini tests/e2e/test_wireguard_peers_e2e.py   (root)
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pytest

from vpn_lab import VpnLab, run_command

pytestmark = [pytest.mark.root, pytest.mark.slow]


@pytest.fixture(scope='module')
def wireguard(vpn_certificates):
    workdir = Path(tempfile.mkdtemp(prefix='roamscan-wg-e2e-'))
    os.chmod(workdir, 0o755)
    try:
        with VpnLab(workdir / 'lab', vpn_certificates) as lab:
            wg = lab.start_wireguard(peers=3)
            wg.handshake(0)
            wg.handshake(1)
            yield wg
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_module(run_ansible, wg, tasks):
    """Run ``tasks`` (module options per task name) in one play inside the server namespace;
    returns (results by name, everything ansible printed at -vvv)."""
    workdir = wg.lab.workdir
    python = workdir / 'python-in-server-netns'
    python.write_text('#!/bin/sh\nexec ip netns exec %s %s "$@"\n' % (wg.lab.server_ns, sys.executable))
    os.chmod(python, 0o755)
    inventory = workdir / 'inventory.ini'
    inventory.write_text('[vpn]\nvpn1 ansible_connection=local ansible_python_interpreter=%s\n' % python)
    play_tasks = []
    for name, options in tasks:
        if name == 'pause':
            play_tasks.append({'ansible.builtin.pause': {'seconds': options}})
            continue
        play_tasks.append({'name': name, 'roamscan.qualys.wireguard_peers': options.get('args'),
                           'check_mode': options.get('check_mode', False), 'register': name, 'ignore_errors': True})
    results = workdir / 'results.json'
    names = [name for name, _options in tasks if name != 'pause']
    play_tasks.append({'ansible.builtin.copy': {
        'content': '{{ %s | to_json }}' % ('{' + ', '.join("'%s': %s" % (n, n) for n in names) + '}'),
        'dest': str(results), 'mode': '0600'}})
    playbook = workdir / 'wireguard.yml'
    playbook.write_text(json.dumps([{'hosts': 'vpn', 'gather_facts': False, 'tasks': play_tasks}]))
    proc = run_ansible('ansible-playbook', '-vvv', '-i', str(inventory), str(playbook))
    assert proc.returncode == 0, proc.stdout[-4000:]
    return json.loads(results.read_text()), proc.stdout + proc.stderr


def test_recent_handshakes_are_seen_silent_peers_unknown_and_no_key_leaks(wireguard, run_ansible):
    wg = wireguard
    args = {'interface': wg.server_if, 'source_host': 'vpn1'}
    results, output = run_module(run_ansible, wg, [
        ('now', {'args': args}),
        ('checked', {'args': args, 'check_mode': True}),
        ('missing', {'args': {'interface': 'rsnosuch0'}}),
        ('hostile', {'args': {'interface': '-x;touch pwned'}}),
        ('pause', 2),
        ('strict', {'args': dict(args, max_handshake_age=1)}),
    ])
    now = results['now']
    assert not now.get('failed') and now['changed'] is False
    assert [(o['ip'], o['identity'], o['event'], o['why'], o['source'], o['authority']) for o in now['observations']] == [
        (wg.peer_ips[i], {'kind': 'wg_key', 'value': expected_value(wg.peer_public(i))}, 'seen', 'handshake',
         {'kind': 'wireguard', 'host': 'vpn1'}, 'table') for i in (0, 1)]
    assert (now['peers'], now['peers_without_recent_handshake']) == (3, 1)
    assert results['checked']['observations'] == now['observations']
    assert results['missing']['failed'] and 'rsnosuch0' in results['missing']['msg']
    assert results['hostile']['failed'] and 'not an interface name' in results['hostile']['msg']
    assert not (wg.lab.workdir / 'pwned').exists()
    # handshakes now older than max_handshake_age: not reported, and nothing says "gone"
    strict = results['strict']
    assert strict['observations'] == [] and (strict['peers'], strict['peers_without_recent_handshake']) == (3, 3)
    # no private key (the server's is the first line of every dump) anywhere in what ansible printed
    everything = output + json.dumps(results)
    for name, (private, _public) in wg.keys.items():
        assert private.read_text().strip() not in everything, name


def test_the_session_table_confirms_a_key_only_at_its_own_address(wireguard, collections_dir):
    sys.path.insert(0, str(collections_dir))
    try:
        from ansible_collections.roamscan.qualys.plugins.module_utils._session_tables import holds
        from ansible_collections.roamscan.qualys.plugins.module_utils._source_tables import read_source_table
        wg = wireguard
        wg.handshake(0)
        sessions = read_source_table('wireguard', wg.server_if, time.time(), 'vpn1', run_command)
        key = expected_value(wg.peer_public(0))
        assert holds(sessions, 'wg_key', key, wg.peer_ips[0])
        assert not holds(sessions, 'wg_key', key, wg.peer_ips[1])        # another peer's address
        assert not holds(sessions, 'wg_key', expected_value(wg.peer_public(2)), wg.peer_ips[2])  # never shook hands
    finally:
        sys.path.remove(str(collections_dir))


def expected_value(public_key):
    """A public key as a spool record carries it: as-is, or %hex when it starts with '+' or '/'."""
    return public_key if public_key[0].isalnum() else '%' + public_key.encode().hex()
