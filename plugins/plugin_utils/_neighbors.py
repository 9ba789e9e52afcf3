# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What neighbour-table and ARP-sweep observations say about the laptops' lease holdings.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

A neighbour entry is no lease: it never starts a holding (the DHCP server's table decides who
holds an IP). It can only speak of a holding that is open:

- the holder's MAC confirmed at its IP during the holding (and before the lease runs out)
  refreshes the record's ``last_seen``, the last moment there is proof of the holding;
- another MAC confirmed at that IP during the holding is evidence the holding ended: it is
  closed at its last sighting (``reassigned``), so no scan after that is credited to it.

Both rules compare the observation's time (the kernel's last confirmation) with the holding's
``held_since``: an entry older than the holding says nothing about it.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._addresses import InvalidAddress, normalize_ip, normalize_mac
from ansible_collections.roamscan.qualys.plugins.module_utils._time import normalize_time
from ansible_collections.roamscan.qualys.plugins.plugin_utils._record import IP_HISTORY_LIMIT, REASSIGNED

NEIGHBOR_SOURCES = ('neighbor', 'probe')


def sightings(observations):
    """``[(time, mac, ip)]`` of the usable neighbour/sweep observations, oldest first; others are skipped."""
    found = []
    for item in observations or []:
        try:
            if item['source']['kind'] not in NEIGHBOR_SOURCES or item['event'] != 'seen' or item['identity']['kind'] != 'mac':
                continue
            found.append((normalize_time(item['time']), normalize_mac(item['identity']['value']), normalize_ip(item['ip'])))
        except (KeyError, TypeError, ValueError, InvalidAddress):
            continue
    found.sort()
    return found


def neighbor_evidence(records, observations):
    """``{refresh: {mac: time}, ended: [{mac, ip, seen_mac, time}]}`` for ``records`` (``{mac: record}``).

    A holding with evidence of another MAC is ended, and not refreshed, whatever the order of the
    sightings: when the table disagrees, the holding is not proved.
    """
    holder_of = {record['ip']: mac for mac, record in records.items()
                 if record.get('lease_state') == 'active' and record.get('ip')}
    refresh, ended = {}, {}
    for moment, mac, ip in sightings(observations):
        holder = holder_of.get(ip)
        if holder is None:
            continue
        record = records[holder]
        if moment < (record.get('held_since') or ''):
            continue
        if mac != holder:
            ended.setdefault(holder, {'mac': holder, 'ip': ip, 'seen_mac': mac, 'time': moment})
        elif (moment > (record.get('last_seen') or '')
              and (record.get('lease_expires') is None or moment <= record['lease_expires'])):
            refresh[holder] = moment
    return {'refresh': {mac: moment for mac, moment in refresh.items() if mac not in ended},
            'ended': [ended[mac] for mac in sorted(ended)]}


def apply_neighbor_evidence(records, evidence):
    """Apply ``neighbor_evidence`` to ``records`` in place; returns the MACs changed."""
    changed = set()
    for mac, moment in evidence['refresh'].items():
        records[mac]['last_seen'] = moment
        changed.add(mac)
    for item in evidence['ended']:
        record = records[item['mac']]
        history = record['ip_history']
        history.append({'ip': record['ip'], 'from': record['held_since'], 'to': max(record['last_seen'], record['held_since'])})
        del history[:-IP_HISTORY_LIMIT]
        record['lease_state'] = REASSIGNED
        changed.add(item['mac'])
    return changed
