# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An operator removes an authenticated link (real ansible-playbook, Qualys simulator, jsonfile store): the cycle links an
AD machine account seen logging on from a MAC's leased address, roamscan.qualys.device_unlink in --check --diff shows the link with its
evidence and writes nothing, the real run removes it and keeps why, and the next sighting does not link it again."""
from __future__ import annotations

import pytest

from cycle_lab import CycleLab, summary_of

A = '02:77:00:00:0a:01'
HOST_A = 'mac-027700000a01'
# a machine account seen logging on from A's address (the cycle links it: an authenticated identity at a held IP);
# the account is shared by a lab's laptops, so the link is wrong
JUMP_SEEN = 'rs2 - - 0 samba seen ad_machine LAB-SHARED$ 10.77.0.100 - - - .\n'
UNLINK = '''- hosts: localhost
  gather_facts: false
  tasks:
    - name: Remove the link
      roamscan.qualys.device_unlink:
        identity: ad_machine:LAB-SHARED$
        reason: "{{ why | default(omit) }}"
      register: unlinked
    - name: Show it
      ansible.builtin.debug:
        msg: "removed from {{ unlinked.unlinked | map(attribute='record') | list }}, seen at {{ unlinked.unlinked | map(attribute='link.evidence.ip') | list }}"
'''


@pytest.fixture
def lab(tmp_path, ansible_env):
    return CycleLab(tmp_path / 'lab', ansible_env)


def test_a_link_the_operator_removes_is_shown_first_then_gone_for_good(lab, qualys_sim):
    lab.write_leases('dhcp1', [('10.77.0.100', A, 3600, 'alice-lt')])
    assert lab.run(qualys_sim).returncode == 0
    lab.append_spool('dhcp1', JUMP_SEEN)
    first = lab.run(qualys_sim)
    assert first.returncode == 0, first.stdout[-3000:]
    records, groups = lab.inventory()
    device = records[HOST_A]
    assert [item['key'] for item in device['identities']] == [A, 'ad_machine:LAB-SHARED$']
    assert HOST_A in groups['roaming_linked']
    evidence = device['links'][0]['evidence']
    assert (evidence['source'], evidence['ip']) == ('samba', '10.77.0.100')

    playbook = lab.root / 'unlink.yml'
    playbook.write_text(UNLINK)
    checked = lab.run(playbook=str(playbook), options=('--check', '--diff'))
    assert checked.returncode == 0, checked.stdout[-3000:]
    # the diff: the record's link, its evidence, and where it goes
    diff = checked.stdout[checked.stdout.index('--- before: %s' % A):]
    assert '"identity": "ad_machine:LAB-SHARED$"' in diff and '"held_since": "%s"' % evidence['held_since'] in diff
    assert '-    "links": [' in diff and '+    "unlinked": [' in diff
    assert 'changed=1' in checked.stdout
    records, dummy = lab.inventory()
    assert [item['key'] for item in records[HOST_A]['identities']] == [A, 'ad_machine:LAB-SHARED$']   # check mode wrote nothing

    done = lab.run(playbook=str(playbook), extra_vars={'why': 'a machine account shared by the lab laptops'})
    assert done.returncode == 0, done.stdout[-3000:]
    assert 'changed=1' in done.stdout and "removed from ['%s'], seen at ['10.77.0.100']" % A in done.stdout
    records, groups = lab.inventory()
    record = records[HOST_A]['records'][A]
    assert [item['key'] for item in records[HOST_A]['identities']] == [A] and record['links'] == []
    assert record['unlinked'][0]['identity'] == 'ad_machine:LAB-SHARED$'
    assert record['unlinked'][0]['reason'] == 'a machine account shared by the lab laptops'
    assert record['unlinked'][0]['evidence'] == evidence
    assert HOST_A not in groups.get('roaming_linked', set())

    # the account logs on from A's address again: recorded as seen, not linked again
    lab.append_spool('dhcp1', JUMP_SEEN)
    again = lab.run(qualys_sim)
    assert again.returncode == 0, again.stdout[-3000:]
    assert summary_of(again)['fault'] is None
    records, dummy = lab.inventory()
    assert [item['key'] for item in records[HOST_A]['identities']] == [A] and records[HOST_A]['records'][A]['links'] == []
    idle = lab.run(playbook=str(playbook))
    assert idle.returncode == 0 and 'changed=0' in idle.stdout
