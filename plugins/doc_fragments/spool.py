# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # Spool options shared by the reader modules lease_events and presence_events (SPOOL_ARGUMENT_SPEC).
    DOCUMENTATION = r'''
options:
  spool_dir:
    description:
      - The spool directory the hook writes to (role variable C(dhcp_hook_spool_dir), with any C(dhcp_hook_root) prefix).
    type: path
    default: /var/spool/roamscan
  ack:
    description:
      - A cursor returned by an earlier run on this server, of M(roamscan.qualys.lease_events) or
        M(roamscan.qualys.presence_events) (a cursor of either acknowledges for both). Everything up to it is
        removed from the spool before reading.
      - A cursor of another spool, or one pointing beyond the spool's data, fails the module and removes nothing.
    type: str
'''
