# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_remember (documented in plugins/modules/cycle_remember.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _remember
from ansible_collections.roamscan.qualys.plugins.plugin_utils._confirm import pending_scan_refs
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import add_links, authenticated_links, kind_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._neighbors import apply_neighbor_evidence, neighbor_evidence, sightings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._summary import acknowledgements


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {'collected': {'type': 'str', 'default': 'roamscan_collected'},
                     'logons': {'type': 'str', 'default': 'roamscan_logons'},
                     'neighbors': {'type': 'str', 'default': 'roamscan_neighbors'},
                     'received': {'type': 'str', 'default': 'roamscan_received'},
                     'vpn_logs': {'type': 'str', 'default': 'roamscan_vpn_logs'}}

    def run_stage(self, stage):
        self._reports, not_reported = stage.reports('dhcp_group', stage.args['collected'], 'presence_events')
        self._logons, logons_not_reported = stage.reports('dc_group', stage.args['logons'], 'logon_events')
        neighbor_reports, neighbors_not_reported = stage.reports('neighbor_group', stage.args['neighbors'], 'neighbor_table')
        self._received, received_not_reported = stage.reports('receiver_group', stage.args['received'], 'presence_events')
        self._vpn_logs, vpn_logs_not_reported = stage.reports('vpn_log_group', stage.args['vpn_logs'], 'log_presence')
        named = _remember.named_reports(self._reports)
        # log-only presence (the receivers' spools, VPN syslog) is folded like the DHCP servers' (authority log)
        log_named = _remember.named_reports(self._received) + _remember.named_reports(self._vpn_logs)
        ending = _remember.session_end_keys(log_named)
        named += log_named
        logons = [self._logons[host] for host in sorted(self._logons)]
        keys, ips = _remember.identities_observed(named)
        keys |= ending
        if stage.settings['dc_presence']:
            keys |= _remember.identities_observed(_remember.named_reports(self._logons))[0]
        others = _remember.identity_observations(named + logons)
        neighbor_seen = [item for host in sorted(neighbor_reports) for item in neighbor_reports[host].get('observations') or []]
        ips |= {item.get('ip') for item in others if isinstance(item.get('ip'), str)}
        ips |= {ip for dummy, dummy_mac, ip in sightings(neighbor_seen)}
        stage.load(stage.store.get(keys | stage.store.holder_keys(ips)))
        if ending:   # a disconnect line names the user, not the tunnel IP: it ends what that identity holds
            named = [_remember.with_session_ends(report, stage.records) for report in named]
        changed, skipped = _remember.fold(stage.records, named)
        stage.mark_changed(changed)
        links = authenticated_links(others, stage.records)
        stage.mark_changed(add_links(stage.records, links))
        if stage.settings['dc_presence']:
            # after the leases and tunnels are folded: only an IP none of them holds is the machine account's
            reduced = {host: _remember.dc_presence_report(report, stage.records, stage.settings['dc_presence_minutes'])
                       for host, report in self._logons.items()}
            dc_changed, dc_skipped = _remember.fold(stage.records, _remember.named_reports(reduced))
            stage.mark_changed(dc_changed)
            skipped += dc_skipped
        # after the DHCP fold: a lease taken this cycle is the holding the neighbour tables speak of
        mac_records = {key: record for key, record in stage.records.items() if kind_of(key) == 'mac'}
        evidence = neighbor_evidence(mac_records, neighbor_seen)
        stage.mark_changed(apply_neighbor_evidence(mac_records, evidence))
        spool_lines = _remember.corrupt_spool_lines(self._reports)
        if skipped:
            stage.warnings.append('Skipped %d unusable DHCP event(s) or lease(s); see "unusable".' % len(skipped))
        stage.warnings += ['DHCP server %s: presence_events skipped %d corrupt spool line(s) (%s)'
                           % (server, lines['count'], ', '.join('%s: %s' % item for item in sorted(lines['reasons'].items())))
                           for server, lines in sorted(spool_lines.items())]
        stage.warnings += ['%s %s did not report, its %s are left out of this cycle: %s' % (what, host, kind, reason)
                           for what, kind, missing in (('Domain controller', 'logons', logons_not_reported),
                                                       ('Neighbour source', 'neighbour tables', neighbors_not_reported),
                                                       ('Presence receiver', 'spooled events', received_not_reported),
                                                       ('VPN log collector', 'VPN log lines', vpn_logs_not_reported))
                           for host, reason in sorted(missing.items())]
        working = dict(stage.store.working_set(), **stage.records)
        return {'servers': sorted(self._reports), 'not_reported': not_reported, 'unusable': skipped,
                'corrupt': list(stage.store.corrupt), 'corrupt_spool_lines': spool_lines,
                'pending_scan_refs': pending_scan_refs(working),
                'other_identities': len(others),
                'linked': {mac: sorted({link['identity'] for link in found}) for mac, found in sorted(links.items())},
                'logon_sources': sorted(self._logons), 'logon_sources_not_reported': logons_not_reported,
                'neighbor_sources': sorted(neighbor_reports), 'neighbor_sources_not_reported': neighbors_not_reported,
                'neighbor_refreshed': sorted(evidence['refresh']), 'neighbor_ended': evidence['ended'],
                'log_sources': sorted(set(self._received) | set(self._vpn_logs)),
                'log_sources_not_reported': dict(received_not_reported, **vpn_logs_not_reported)}

    def after_save(self, stage, stored):
        return {'acknowledge': acknowledgements(self._reports, stored),
                'acknowledge_logons': acknowledgements(self._logons, stored),
                'acknowledge_received': acknowledgements(self._received, stored),
                'acknowledge_vpn_logs': acknowledgements(self._vpn_logs, stored)}
