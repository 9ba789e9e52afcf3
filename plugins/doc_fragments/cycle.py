# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # The cycle settings every stage action reads from the task's variables (plugin_utils/_settings.py).
    DOCUMENTATION = r'''
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: full
    details: Computes and returns everything, writes nothing to the store (opened read-only), and returns the records
      it and the earlier stages would have written (C(would_store)), which the next stage reads over the stored ones.
  diff_mode:
    support: none
  platform:
    platforms: all
    details: Runs on the controller only; the target host is not contacted.
notes:
  - "The cycle settings are read from the task's variables, so Ansible's precedence decides where they come from
    (inventory, C(group_vars), C(host_vars) of C(localhost), extra vars); tasks pass none of them.
    C(roamscan_rescan_days) (default V(30)) - a laptop is due this many days after its last completed scan.
    C(roamscan_max_hosts_per_cycle) (default V(500)) - most laptops in one cycle's launch.
    C(roamscan_max_active_scans) (default V(1)) - launch nothing while this many roamscan scans are pending.
    C(roamscan_abandon_after_hours) (default V(24)) - give up on a pending scan not finished and processed by then.
    C(roamscan_scan_title_prefix) (default V(roamscan)) - start of the launch title, followed by the cycle time.
    C(roamscan_dhcp_group) (default V(dhcp_servers)) - the inventory group of the DHCP servers.
    C(roamscan_vpn_group) (default V(vpn_servers)) - the inventory group of the VPN servers (host variable
    C(roamscan_vpn_server) V(openvpn), V(ocserv) or V(wireguard)).
    C(roamscan_credit_log_presence) (default V(false)) - also scan and credit holdings known only from a log (a source
    with no live table to re-read before the launch); such credits are flagged C(last_scan_authority: log).
    C(roamscan_use_qualys_host_list) (default V(true)) - credit scans of other schedules from the Qualys host list.
    C(roamscan_credential_check) (default V(true)) - a cycle that made no other Qualys call proves the login with
    M(roamscan.qualys.qualys_login_check).
    C(roamscan_report_days) (default V(30)) - the coverage report's window.
    C(roamscan_liveness_probe) (default V(false)) - right before the launch, M(roamscan.qualys.liveness_probe)
    checks that each target still answers, with its MAC; those that do not are dropped (C(docs/probe.md)).
    C(roamscan_probe_routes) (default V({})) - CIDR to the inventory host that probes it (on that segment,
    with host variable C(roamscan_probe_interface)); a target no CIDR covers is probed by the DHCP server that leased it.
    C(roamscan_history_days) (default V(400)) - days of cycle history the summary keeps in the store.
    C(roamscan_report_site), C(roamscan_report_source), C(roamscan_report_group) (default unset) - the coverage
    report's filters: a site (a DHCP server's C(roamscan_site)), a presence source, an inventory group of DHCP servers.
    C(roamscan_report_due_soon_days) (default V(7)) - the report's due-soon horizon.
    C(roamscan_api_allowance_per_day) (default V(7200)) - the Qualys API calls a day the report measures against.
    C(roamscan_device_aliases) (default V([])) - the operator's alias list, C([{device, identities}]), each identity
    C(kind:value) (e.g. C(mac:02:77:00:00:0a:01), C(vpn_cert:laptop-17)): the identities of one device, scanned once
    and credited together. C(roamscan_device_aliases_file) (default unset) - the same list in a YAML or CSV file
    (C(device,identity) rows). Client-supplied names (DHCP host names, VPN peer info) never link identities.
    C(roamscan_cycle_lock_seconds) (default V(1800)) - the cycle lease on the store lasts this long unless renewed
    (every stage renews it); a dead cycle's lease is taken over after it.
    C(roamscan_when_locked) (default V(skip)) - V(skip) (a green run that does nothing) or V(fail), when another cycle
    holds the lease.
    The API budget governor (store entry C(roamscan-api-budget)): C(roamscan_api_reserve_percent) (default V(10)) - the
    share of each Qualys API's limit left to other tools of the subscription; C(roamscan_api_budgets) (default V({}))
    - roamscan's own cap per API and Qualys window, C({scan_launch: 20, scan_list: 30, scan_fetch: 20, host_list: 10});
    C(roamscan_batch_min_targets) (default V(1)) - a launch waits until this many devices are due, unless
    C(roamscan_batch_max_wait_minutes) (default V(60)) passed since the first arrived or one device's departure risk
    reaches C(roamscan_batch_leave_risk) (default V(0.2)); C(roamscan_scan_pickup_seconds) (default V(190)) - the
    appliance's pickup, part of how long a device must stay for a scan launched now;
    C(roamscan_host_list_cache_hours) (default V(24)) - a device's host-list date is looked up again only after this."
  - "The scan settings, checked before anything is recorded by the same rule
    M(roamscan.qualys.qualys_scan_launch) applies: exactly one of C(roamscan_option_profile) /
    C(roamscan_option_profile_id), and exactly one scanner selector - C(roamscan_scanner) (appliance names),
    C(roamscan_scanner_ids), C(roamscan_default_scanner=true), C(roamscan_scanners_in_ag=true), or
    C(roamscan_external_scanners=true) only if the laptops are reachable from the internet. Optional
    C(roamscan_scan_priority) (0-9) and C(roamscan_max_targets_per_scan)."
  - "The laptop records live in Ansible's configured fact cache (C(fact_caching), C(fact_caching_connection),
    C(fact_caching_timeout=0)), or in the store C(roamscan_fact_cache) names
    (C({plugin, connection, timeout: 0, prefix})), which ansible-runner and AWX need because they point Ansible's
    own fact cache at a directory of each job. A memory cache, a cache that expires entries and that per-job
    directory are refused: each would silently forget scan history."
'''

    # Where the laptop records are, as a plugin option (the inventory plugin).
    FACT_CACHE = r'''
options:
  fact_cache:
    description:
      - Read the laptop records from this cache plugin instead of Ansible's configured fact cache - the same
        settings the cycle uses (its C(roamscan_fact_cache) variable), for example under ansible-runner or AWX.
    type: dict
    suboptions:
      plugin:
        description: Cache plugin name, for example C(community.general.redis) or C(ansible.builtin.jsonfile).
        type: str
        required: true
      connection:
        description: The plugin's connection (C(_uri)) - a directory for file caches, C(host:port:db) for Redis.
        type: str
      timeout:
        description: Expiry of entries in seconds; must be C(0) (never).
        type: int
        default: 0
      prefix:
        description: Key prefix (C(_prefix)).
        type: str
'''
