# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The verify stage's optional liveness check: which probe host asks which target, and what its
answers mean for the launch.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

``roamscan_probe_routes`` maps CIDRs to the inventory host that sits on that segment (the most
specific CIDR wins); a target no route covers is asked by the DHCP server that leased it. A
target the probe found silent (``no_reply``) or answering with another MAC (``mac_mismatch``)
is dropped from the launch. A target whose probe host could not run the probe is kept (its lease
was re-verified just before) and reported, so a broken probe never stops the scanning.
"""

from __future__ import annotations

import ipaddress

PROBE_REASONS = ('no_reply', 'mac_mismatch')


class InvalidProbeRoutes(ValueError):
    """``roamscan_probe_routes`` is not a mapping of IPv4 CIDRs to inventory host names."""


def parse_routes(routes):
    """``[(network, host)]`` most specific first, from ``{cidr: host}``."""
    if routes is None:
        return []
    if not isinstance(routes, dict):
        raise InvalidProbeRoutes('roamscan_probe_routes must map CIDRs to inventory hosts, got %s' % type(routes).__name__)
    parsed = []
    for cidr, host in routes.items():
        try:
            network = ipaddress.IPv4Network(str(cidr), strict=False)
        except ValueError:
            raise InvalidProbeRoutes('roamscan_probe_routes: not an IPv4 network: %r' % str(cidr)[:64]) from None
        if not isinstance(host, str) or not host:
            raise InvalidProbeRoutes('roamscan_probe_routes[%s]: not an inventory host name' % network)
        parsed.append((network, host))
    parsed.sort(key=lambda item: -item[0].prefixlen)
    return parsed


def probe_plan(targets, routes, records, interface_of):
    """``(probes, unprobed)``: ``[{host, interface, allow, targets: [{ip, mac}]}]``, one probe per host, each
    allowed just its targets' routes (or, for a DHCP server asked by default, just the targets themselves);
    and ``{ip: why}`` of the targets no host can probe (no route and no leasing server, or a host without
    ``interface_of(host)``, its ``roamscan_probe_interface``)."""
    plan, unprobed = {}, {}
    for target in targets:
        address = ipaddress.IPv4Address(target['ip'])
        route = next(((network, host) for network, host in routes if address in network), None)
        if route is not None:
            host, allow = route[1], str(route[0])
        else:
            host, allow = (records.get(target['identity']) or {}).get('dhcp_server'), '%s/32' % address
        if not host:
            unprobed[target['ip']] = 'no probe host: no roamscan_probe_routes entry and no leasing DHCP server'
            continue
        if host not in plan:
            interface = interface_of(host)
            if not interface:
                unprobed[target['ip']] = 'roamscan_probe_interface is not set for %s' % host
                continue
            plan[host] = {'host': host, 'interface': interface, 'allow': [], 'targets': []}
        entry = plan[host]
        if allow not in entry['allow']:
            entry['allow'].append(allow)
        entry['targets'].append({'ip': target['ip'], 'mac': target['mac']})
    return [plan[host] for host in sorted(plan)], unprobed


def probe_reports(registered):
    """``(results, unprobed)`` of a registered liveness_probe loop over ``probe_plan`` entries (``item``):
    every result of the probes that ran, and ``{ip: why}`` of the targets whose probe did not run."""
    results, unprobed = [], {}
    for item in (registered or {}).get('results') or []:
        entry = item.get('item') if isinstance(item, dict) else None
        if not isinstance(entry, dict):
            continue
        if item.get('failed') or item.get('unreachable') or item.get('skipped') or not isinstance(item.get('results'), list):
            why = 'probe on %s did not run: %s' % (entry.get('host'), str(item.get('msg') or 'skipped')[:300])
            unprobed.update((target.get('ip'), why) for target in entry.get('targets') or [] if isinstance(target, dict))
            continue
        results.extend(result for result in item['results'] if isinstance(result, dict))
    return results, unprobed


def probe_costs(registered):
    """``{hosts, elapsed, packets_sent}`` of the probes that ran: the longest probe's time (they run
    one host after the other only without forks) and the packets sent per method, summed."""
    hosts, elapsed, sent = [], 0.0, {}
    for item in (registered or {}).get('results') or []:
        if not isinstance(item, dict) or not isinstance(item.get('results'), list) or item.get('failed'):
            continue
        hosts.append((item.get('item') or {}).get('host'))
        elapsed = max(elapsed, float(item.get('elapsed') or 0))
        for method, count in (item.get('packets_sent') or {}).items():
            sent[method] = sent.get(method, 0) + int(count)
    return {'hosts': hosts, 'elapsed': elapsed, 'packets_sent': sent}


def apply_probe(launch, results, unprobed):
    """Split ``launch`` (``[{identity, mac, ip}]``) by the probe's ``results`` (``[{ip, expected_mac, reason, ...}]``).

    ``unprobed`` is ``{ip: why}`` of targets whose probe did not run. Returns ``(kept, dropped, not_probed)``;
    dropped entries carry ``reason`` and what the probe saw.
    """
    verdicts = {(item.get('ip'), item.get('expected_mac')): item for item in results}
    kept, dropped, not_probed = [], [], []
    for target in launch:
        verdict = verdicts.get((target['ip'], target['mac']))
        if verdict is None:
            not_probed.append(dict(_named(target), reason=unprobed.get(target['ip']) or 'no probe result'))
            kept.append(target)
        elif verdict.get('reason') in PROBE_REASONS:
            dropped.append(dict(_named(target), reason=verdict['reason'], method=verdict.get('method'),
                                seen_macs=list(verdict.get('macs') or [])))
        else:
            kept.append(target)
    return kept, dropped, not_probed


def _named(target):
    return {'identity': target['identity'], 'mac': target['mac'], 'ip': target['ip']}
