#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: qualys_scan_status
short_description: Read the state of Qualys VM scans and which targets were really scanned
version_added: 0.1.0
description:
  - Reads the state of several VM scans with B(one) API call per poll, whatever their number.
  - The scan list API filters by a single C(scan_ref) only, so for several references the module
    lists the scans launched since the oldest reference's launch time (a scan reference carries its
    launch epoch) minus one day, and picks the wanted ones from that one answer.
  - Once a scan is C(Finished) and processed, its results are fetched once
    (C(action=fetch), JSON) to tell the targets that were alive and scanned from those that were not.
    A target counts as scanned only when the results show it alive.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - roamscan.qualys.qualys.read_only
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.qualys
  - roamscan.qualys.qualys.attributes
options:
  scan_refs:
    description:
      - Scan references (C(scan/<epoch>.<number>)) as returned by M(roamscan.qualys.qualys_scan_launch).
    type: list
    elements: str
    required: true
  wait:
    description:
      - Poll until every scan is done (see RV(scans[].done)) or O(wait_timeout) passes; the task
        fails on timeout, returning what it read.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds to wait with O(wait=true).
    type: int
    default: 3600
  poll_interval:
    description:
      - Seconds between polls with O(wait=true); at least 30 (each poll is one API call, and
        appliances pick up new jobs only every few minutes).
    type: int
    default: 120
seealso:
  - module: roamscan.qualys.qualys_scan_launch
'''

EXAMPLES = r'''
- name: Read the pending scans of the last cycle (one API call)
  roamscan.qualys.qualys_scan_status:
    platform: EU2
    username: "{{ qualys_user }}"
    password: "{{ qualys_password }}"
    scan_refs: "{{ pending_refs }}"
  register: status
  delegate_to: localhost

- name: Credit only the laptops that were alive and scanned
  ansible.builtin.debug:
    msg: "{{ status.scans | selectattr('done') | map(attribute='scanned') | flatten }}"

- name: Wait for a scan to finish and be processed
  roamscan.qualys.qualys_scan_status:
    scan_refs:
      - "{{ launch.scan_refs[0] }}"
    wait: true
    wait_timeout: 7200
    poll_interval: 300
  register: finished
'''

RETURN = r'''
scans:
  description: One entry per requested reference, in request order.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: Scan reference.
      type: str
      sample: scan/1795849945.00001
    title:
      description: Scan title (null when the scan was not found).
      type: str
      sample: roamscan office-b
    state:
      description:
        - Qualys state (V(Queued), V(Loading), V(Running), V(Paused), V(Finished), V(Canceled), V(Error)).
        - Null when Qualys does not list the reference (deleted, or older than its listing window).
      type: str
      sample: Finished
    sub_state:
      description: Qualys sub-state, for example V(No_Host) when no target was alive.
      type: str
      sample: null
    processed:
      description: Whether Qualys has processed the results into host data.
      type: bool
      sample: true
    launched:
      description: Launch time, ISO-8601 UTC.
      type: str
      sample: "2026-11-28T07:03:14Z"
    duration:
      description: Duration as Qualys reports it (C(HH:MM:SS)).
      type: str
      sample: "00:10:00"
    targets:
      description: Targets of the scan (IPs and ranges).
      type: list
      elements: str
      sample: [10.20.4.0-10.20.4.40]
    done:
      description:
        - True when nothing more will change - V(Canceled) or V(Error), V(Finished) and processed, or
          not found. Only then are RV(scans[].scanned) and RV(scans[].not_scanned) filled.
      type: bool
      sample: true
    scanned:
      description: Target IPs that were alive and scanned (from the scan's own results).
      type: list
      elements: str
      sample: [10.20.4.7]
    not_scanned:
      description:
        - Target IPs that were not scanned, with the reason from the results (V(not_alive),
          V(excluded), V(canceled), ...; V(no_result) when the results say nothing about the IP).
      type: list
      elements: dict
      sample: [{ip: 10.20.4.8, reason: not_alive}]
    found:
      description: False when Qualys did not list this reference.
      type: bool
      sample: true
all_done:
  description: True when every scan is done.
  returned: always
  type: bool
  sample: false
api_calls:
  description: Qualys API calls this task made (polls, result fetches, retries).
  returned: always
  type: int
  sample: 1
api_usage:
  description:
    - Per Qualys API used (V(scan_launch), V(scan_list), V(scan_fetch), V(host_list)) - the calls of this task and
      what Qualys last answered about that API's limits; the scan cycle's budget governor keeps it in the store.
  returned: always
  type: dict
  sample: {"scan_list": {"calls": 1, "limit": 300, "window_sec": 3600, "remaining": 297, "to_wait_sec": 0,
           "concurrency_limit": 2, "concurrency_running": 1, "blocked_code": null}}
'''

import time

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import QualysError
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_module import QualysModule
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_scans import poll_until_done, validate_refs

MIN_POLL_INTERVAL = 30


def main():
    module = QualysModule(
        argument_spec=dict(
            scan_refs=dict(type='list', elements='str', required=True),
            wait=dict(type='bool', default=False),
            wait_timeout=dict(type='int', default=3600),
            poll_interval=dict(type='int', default=120),
        ),
        supports_check_mode=True,
    )
    params = module.params
    refs = list(dict.fromkeys(ref.strip() for ref in params['scan_refs']))
    if not refs:
        module.fail_json(msg='scan_refs is empty')
    try:
        validate_refs(refs)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    if params['poll_interval'] < MIN_POLL_INTERVAL:
        module.fail_json(msg='poll_interval must be at least %d seconds (each poll is one API call)'
                             % MIN_POLL_INTERVAL)
    if params['wait_timeout'] < 0:
        module.fail_json(msg='wait_timeout must be zero or more seconds')

    client = module.qualys_client()
    try:
        scans, timed_out = poll_until_done(client, refs, params['wait'], params['wait_timeout'],
                                           params['poll_interval'], sleep=time.sleep)
    except QualysError as exc:
        module.fail_qualys(exc)
    missing = [scan['ref'] for scan in scans if not scan['found']]
    if missing:
        module.warn('Qualys does not list these scans (deleted, or launched long ago): %s' % ', '.join(missing))
    result = dict(changed=False, scans=scans, all_done=all(scan['done'] for scan in scans),
                  api_calls=client.api_calls)
    if timed_out:
        module.fail_json(msg='scans not done after wait_timeout=%d s: %s' % (
            params['wait_timeout'], ', '.join(s['ref'] for s in scans if not s['done'])), **result)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
