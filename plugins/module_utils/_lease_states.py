# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The lease vocabulary: kinds of DHCP presence events and states of lease-table rows.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.
Standard library only: the DHCP-server side (presence, lease_events, the EDA source) and the
controller's remember stage read the same words from here.
"""

from __future__ import annotations

# A laptop took or kept a lease.
PRESENCE_KINDS = ('lease', 'renew')
# A lease ended.
ENDING_KINDS = ('release', 'expire', 'decline')
EVENT_KINDS = PRESENCE_KINDS + ENDING_KINDS
# States of a row of a DHCP server's lease table, as lease_events reports them.
LEASE_STATES = ('active', 'released', 'expired', 'declined', 'free')
