# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
name: record_only
short_description: Refuses to connect - for inventory hosts that are records, not machines
version_added: 0.1.0
description:
  - The R(roamscan.qualys.laptops,ansible_collections.roamscan.qualys.laptops_inventory) inventory plugin gives every
    laptop this connection. The laptops are known by MAC and reached only by scans; their IP may already belong to
    another machine. A play that targets them fails for each host with a message instead of connecting anywhere.
  - "Use laptop hosts from C(hosts: localhost) plays through C(groups) and C(hostvars)."
author:
  - roamscan maintainers (@roamscan)
"""

from ansible.errors import AnsibleConnectionFailure
from ansible.plugins.connection import ConnectionBase

REFUSAL = ('%s is a roaming laptop record from roamscan.qualys.laptops, not a machine Ansible connects to '
           '(its IP may already belong to someone else). Use it from a "hosts: localhost" play through '
           'groups and hostvars.')


class Connection(ConnectionBase):

    transport = 'roamscan.qualys.record_only'
    has_pipelining = False

    def _refuse(self):
        raise AnsibleConnectionFailure(REFUSAL % self._play_context.remote_addr)

    def _connect(self):
        self._refuse()

    def exec_command(self, cmd, in_data=None, sudoable=True):
        self._refuse()

    def put_file(self, in_path, out_path):
        self._refuse()

    def fetch_file(self, in_path, out_path):
        self._refuse()

    def close(self):
        self._connected = False
