# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scanner routes: which scanner appliance reaches which network, and one launch per route group.

FOR INTERNAL COLLECTION USE ONLY: this file may change without notice between releases.

``roamscan_scanner_routes`` maps IPv4 CIDRs to a scanner selector, as qualys_scan_launch takes it:
an appliance name, a list of names, or one of ``{scanner: [names]}``, ``{scanner_ids: [ids]}``,
``{default_scanner: true}``, ``{scanners_in_ag: true}``. The most specific CIDR wins. Targets with
the same selector form one route group, launched once with the cycle's title plus ``via <selector>``;
targets no route covers are launched with the cycle's own scanner settings and its plain title, so
without routes (or when every target is outside them) a cycle launches exactly as before.
"""

from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.module_utils._scan_choice import SCANNER_SELECTORS
from ansible_collections.roamscan.qualys.plugins.plugin_utils._cidr_routes import parse_cidr_map, route_of

VARIABLE = 'roamscan_scanner_routes'


class InvalidScannerRoutes(ValueError):
    """``roamscan_scanner_routes`` is not a mapping of IPv4 CIDRs to scanner selectors."""

    WHAT = 'scanner selectors'


def _names(network, value):
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(name, str) and name.strip() for name in names):
        raise InvalidScannerRoutes('%s[%s]: scanner must be an appliance name or a list of names' % (VARIABLE, network))
    if any(',' in name for name in names):
        raise InvalidScannerRoutes('%s[%s]: an appliance name has no comma' % (VARIABLE, network))
    return {'scanner': [name.strip() for name in names]}


def _selector(network, raw):
    """The route's scanner options ``{one of SCANNER_SELECTORS: value}``."""
    if not isinstance(raw, dict):
        return _names(network, raw)
    if len(raw) != 1 or next(iter(raw)) not in SCANNER_SELECTORS:
        raise InvalidScannerRoutes('%s[%s]: give an appliance name or exactly one of %s'
                                   % (VARIABLE, network, ', '.join(SCANNER_SELECTORS)))
    option, value = next(iter(raw.items()))
    if option == 'scanner':
        return _names(network, value)
    if option == 'scanner_ids':
        if not isinstance(value, list) or not value or not all(isinstance(item, int) and not isinstance(item, bool) and item > 0
                                                               for item in value):
            raise InvalidScannerRoutes('%s[%s]: scanner_ids must be a list of appliance ids' % (VARIABLE, network))
        return {'scanner_ids': list(value)}
    if value is not True:
        raise InvalidScannerRoutes('%s[%s]: %s can only be true' % (VARIABLE, network, option))
    return {option: True}


def parse_scanner_routes(routes):
    """``[(network, selector)]`` most specific first; raises InvalidScannerRoutes."""
    return parse_cidr_map(routes, VARIABLE, InvalidScannerRoutes, _selector)


def selector_label(selector):
    """How a route group's scans are told apart by title: ``scanner a+b``, ``scanner_ids 1+2``, ``default_scanner``."""
    option, value = next(iter(selector.items()))
    return option if value is True else '%s %s' % (option, '+'.join(str(item) for item in value))


def launch_options_for(options, selector):
    """The cycle's launch options with the scanner choice replaced by ``selector`` (None: unchanged)."""
    if selector is None:
        return dict(options)
    chosen = {name: value for name, value in options.items() if name not in SCANNER_SELECTORS + ('external_scanners',)}
    chosen.update(selector)
    return chosen


def route_groups(targets, routes, title):
    """``[{title, selector, targets}]``: one launch per route group, the unrouted group first.

    A target that carries a ``title`` (a resumed intent) stays in the group of that title, so a
    resumed launch keeps the title Qualys knows it by; its selector is its route's now.
    """
    groups = {}
    for target in targets:
        route = route_of(target['ip'], routes)
        selector = route[1] if route else None
        group_title = target.get('title') or (title if selector is None else '%s via %s' % (title, selector_label(selector)))
        group = groups.setdefault(group_title, {'title': group_title, 'selector': selector, 'targets': []})
        group['targets'].append({key: target[key] for key in ('identity', 'mac', 'ip')})
    return sorted(groups.values(), key=lambda group: (group['selector'] is not None, group['title']))
