# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugin for roamscan.qualys.cycle_remember (documented in plugins/modules/cycle_remember.py)."""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _remember
from ansible_collections.roamscan.qualys.plugins.plugin_utils._budget import pending_scans, poll_decision
from ansible_collections.roamscan.qualys.plugins.plugin_utils._confirm import pending_scan_refs
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cycle_action import CycleActionBase
from ansible_collections.roamscan.qualys.plugins.plugin_utils._devices import add_links, authenticated_links, kind_of
from ansible_collections.roamscan.qualys.plugins.plugin_utils._neighbors import apply_neighbor_evidence, neighbor_evidence, sightings
from ansible_collections.roamscan.qualys.plugins.plugin_utils._summary import acknowledgements


# the collect results (roamscan_collected_<kind>) that are not presence a holding is read from: the domain
# controllers' logons (they link; with roamscan_dc_presence they also give presence) and the neighbour tables
LOGONS = 'logons'
NEIGHBORS = 'neighbors'
# log-only presence (authority log): folded like the rest, reported apart; the VPN syslog has its own cursor
RECEIVER = 'receiver'
VPN_LOG = 'vpn_log'
# the kind a host that registered nothing at all is not reported under: that of its first group here
GROUP_KINDS = (('dhcp_group', ''), ('vpn_group', ''), ('dc_group', LOGONS), ('neighbor_group', NEIGHBORS),
               ('receiver_group', RECEIVER), ('vpn_log_group', VPN_LOG))


def _by_host(reports):
    return sorted(reports, key=lambda item: item[0])


class ActionModule(CycleActionBase):

    ARGUMENT_SPEC = {'collected': {'type': 'str', 'default': 'roamscan_collected'}}

    def run_stage(self, stage):
        by_kind, missing = stage.collected(stage.args['collected'])
        for host, reason in missing.pop(None, {}).items():
            kind = next(kind for setting, kind in GROUP_KINDS if host in stage.group_hosts(setting))
            missing.setdefault(kind, {})[host] = reason
        self._logons = _by_host(by_kind.pop(LOGONS, []))
        neighbor_reports = _by_host(by_kind.pop(NEIGHBORS, []))
        self._vpn_logs = _by_host(by_kind.pop(VPN_LOG, []))
        received = _by_host(by_kind.pop(RECEIVER, []))
        presence = _by_host(item for reports in by_kind.values() for item in reports)
        logons_not_reported, neighbors_not_reported = missing.pop(LOGONS, {}), missing.pop(NEIGHBORS, {})
        log_not_reported = dict(missing.pop(RECEIVER, {}), **missing.pop(VPN_LOG, {}))
        not_reported = {host: reason for reasons in missing.values() for host, reason in reasons.items()}
        # the receivers' spools are presence_events spools: acknowledged with the DHCP and VPN servers' ones
        self._reports = _by_host(presence + received)
        named = _remember.named_reports(presence)
        log_named = _remember.named_reports(received + self._vpn_logs)
        ending = _remember.session_end_keys(log_named)
        named += log_named
        logons = [report for dummy, report in self._logons]
        keys, ips = _remember.identities_observed(named)
        keys |= ending
        if stage.settings['dc_presence']:
            keys |= _remember.identities_observed(_remember.named_reports(self._logons))[0]
        others = _remember.identity_observations(named + logons)
        neighbor_seen = [item for dummy, report in neighbor_reports for item in report.get('observations') or []]
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
            reduced = [(host, _remember.dc_presence_report(report, stage.records, stage.settings['dc_presence_minutes']))
                       for host, report in self._logons]
            dc_changed, dc_skipped = _remember.fold(stage.records, _remember.named_reports(reduced))
            stage.mark_changed(dc_changed)
            skipped += dc_skipped
        # after the DHCP fold: a lease taken this cycle is the holding the neighbour tables speak of
        mac_records = {key: record for key, record in stage.records.items() if kind_of(key) == 'mac'}
        evidence = neighbor_evidence(mac_records, neighbor_seen)
        stage.mark_changed(apply_neighbor_evidence(mac_records, evidence))
        spool_lines = _remember.corrupt_spool_lines(self._reports)
        if skipped:
            stage.warnings.append('Skipped %d unusable presence observation(s) or table row(s); see "unusable".' % len(skipped))
        stage.warnings += ['Presence host %s: presence_events skipped %d corrupt spool line(s) (%s)'
                           % (server, lines['count'], ', '.join('%s: %s' % item for item in sorted(lines['reasons'].items())))
                           for server, lines in sorted(spool_lines.items())]
        stage.warnings += ['%s %s did not report, its %s are left out of this cycle: %s' % (what, host, kind, reason)
                           for what, kind, reasons in (('Domain controller', 'logons', logons_not_reported),
                                                       ('Neighbour source', 'neighbour tables', neighbors_not_reported),
                                                       ('Log presence source', 'log lines', log_not_reported))
                           for host, reason in sorted(reasons.items())]
        working = dict(stage.store.working_set(), **stage.records)
        pending = pending_scans(working)
        poll, deferred = poll_decision(stage.budget(), pending, stage.now, stage.settings)
        return {'pending_scans': pending, 'poll_scan_refs': [item['ref'] for item in pending] if poll else [],
                'deferred': [deferred] if deferred else [],
                'servers': sorted({host for host, dummy in presence}), 'not_reported': not_reported, 'unusable': skipped,
                'live_tables': _remember.live_tables(presence),
                'corrupt': list(stage.store.corrupt), 'corrupt_spool_lines': spool_lines,
                'pending_scan_refs': pending_scan_refs(working),
                'other_identities': len(others),
                'linked': {mac: sorted({link['identity'] for link in found}) for mac, found in sorted(links.items())},
                'logon_sources': sorted({host for host, dummy in self._logons}), 'logon_sources_not_reported': logons_not_reported,
                'neighbor_sources': sorted({host for host, dummy in neighbor_reports}),
                'neighbor_sources_not_reported': neighbors_not_reported,
                'neighbor_refreshed': sorted(evidence['refresh']), 'neighbor_ended': evidence['ended'],
                'log_sources': sorted({host for host, dummy in received + self._vpn_logs}),
                'log_sources_not_reported': log_not_reported}

    def after_save(self, stage, stored):
        return {'acknowledge': acknowledgements(self._reports, stored),
                'acknowledge_logons': acknowledgements(self._logons, stored),
                'acknowledge_vpn_logs': acknowledgements(self._vpn_logs, stored)}
