#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: qualys_scan_launch
short_description: Launch batched Qualys VM scans of many IPs with few API calls
version_added: 0.1.0
description:
  - Launches Qualys VM scans (C(POST /api/2.0/fo/scan/ action=launch)) of a list of IPs and
    ranges, as few launches as O(max_targets_per_scan) allows; each launch is one API call.
  - Every target is validated and duplicates are removed before any API call.
  - A launch is never re-sent blindly. With O(reuse_active) a scan of the same title and targets that
    is still active is returned instead of launching again, so re-running the task after a lost
    answer does not start a second scan.
  - With O(resume), the task resumes a launch recorded as intended earlier (a run killed while Qualys
    was answering it). The scan launched for it is returned whatever its state is now, even finished
    or canceled, and nothing is launched when Qualys cannot tell whether it exists.
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.qualys
  - roamscan.qualys.qualys.attributes
attributes:
  check_mode:
    description: Makes no API call and returns the planned launches (RV(scans) without references).
    support: full
options:
  targets:
    description:
      - IPv4 addresses and C(first-last) ranges to scan. Overlaps and duplicates are merged.
      - Any invalid entry fails the task before an API call is made.
    type: list
    elements: str
    required: true
  option_profile:
    description:
      - Title of the option profile (API C(option_title)). Exactly one of O(option_profile) and
        O(option_profile_id) is required.
    type: str
  option_profile_id:
    description:
      - ID of the option profile (API C(option_id)).
    type: int
  scanner:
    description:
      - Names of the scanner appliances to use (API C(iscanner_name)).
      - Laptops sit on internal networks, so exactly one of O(scanner), O(scanner_ids),
        O(default_scanner) and O(scanners_in_ag) is required unless O(external_scanners=true).
    type: list
    elements: str
  scanner_ids:
    description:
      - IDs of the scanner appliances to use (API C(iscanner_id)).
    type: list
    elements: int
  default_scanner:
    description:
      - Use the default scanner appliance of each target's asset group (API C(default_scanner=1)).
    type: bool
    default: false
  scanners_in_ag:
    description:
      - Distribute the scan across the appliances of the targets' asset groups (API C(scanners_in_ag=1)).
    type: bool
    default: false
  external_scanners:
    description:
      - Allow a launch without a scanner selector. Qualys then uses its external (internet) scanners,
        which cannot reach hosts on private networks; every such laptop would come back as not alive.
    type: bool
    default: false
  title:
    description:
      - Scan title (API C(scan_title)). When the targets are split, each launch gets the suffix
        C([n/total]).
      - Together with the targets it identifies the scan for O(reuse_active); keep it stable per run.
      - Required unless O(resume) is set, whose O(resume.title) it defaults to; when both are set they must be equal.
    type: str
  priority:
    description:
      - Processing priority, V(0) (no priority) to V(9) (low); V(1) is Emergency.
    type: int
  max_targets_per_scan:
    description:
      - Most addresses (ranges counted by size) per launch. The targets are split into the fewest
        launches this allows. Unset means one launch for everything.
    type: int
  reuse_active:
    description:
      - Before launching, read this user's scans that are still C(Queued), C(Loading) or C(Running)
        (one extra API call). A scan with the same title whose targets cover a planned launch is
        returned instead of launching it again.
      - This is what makes re-running a task safe after a launch answer was lost. When an answer
        is lost the module also looks once more itself.
    type: bool
    default: true
  recover_lost:
    description:
      - Without O(reuse_active), still look once for the scan (one scan-list call of this user's active scans) after
        a launch answer was lost, and return it instead of failing. The lookup costs a call only when an answer is lost.
    type: bool
    default: false
  resume:
    description:
      - Resume a launch whose intent was recorded before an earlier run stopped, so that it never starts a
        second scan. One scan-list call (instead of the O(reuse_active) one) reads this user's scans in
        B(any) state launched since O(resume.since) minus one hour (Qualys' clock may differ from the
        controller's); the scan titled O(resume.title) (per split launch, with its C([n/total]) suffix) is
        returned with RV(scans[].reused) and its RV(scans[].state) instead of launching.
      - Only a title no scan carries is launched. If that listing fails or finds several scans with the
        title, the task fails without launching anything, so the intent stays unresolved for the next run.
      - The API cannot filter by title, so the title is compared here; keep titles unique per intent
        (the scan cycle puts the intent's time in them).
    type: dict
    suboptions:
      title:
        description: Title the intent's scan was (or is to be) launched with.
        type: str
        required: true
      since:
        description: When the intent was recorded, ISO-8601 with a time zone (V(2026-12-01T09:00:05Z)), before its launch call.
        type: str
        required: true
seealso:
  - module: roamscan.qualys.qualys_scan_status
  - module: roamscan.qualys.host_last_scanned
'''

EXAMPLES = r'''
- name: Scan the present, overdue laptops in one launch
  roamscan.qualys.qualys_scan_launch:
    platform: EU2
    username: "{{ qualys_user }}"
    password: "{{ qualys_password }}"
    targets: "{{ overdue_ips }}"
    title: "roamscan {{ ansible_date_time.date }} {{ ansible_date_time.hour }}h"
    option_profile: Laptop Light Scan
    scanner:
      - laptop_scanner_1
    max_targets_per_scan: 1000
  register: launch
  delegate_to: localhost

- name: Same, credentials from QUALYS_* environment variables, defaults for the whole group
  module_defaults:
    group/roamscan.qualys.qualys:
      platform: US2
      max_wait: 600
  block:
    - name: Launch with the appliances of the targets' asset groups
      roamscan.qualys.qualys_scan_launch:
        targets:
          - 10.20.0.15
          - 10.20.4.0-10.20.4.40
        title: roamscan office-b
        option_profile_id: 1002
        scanners_in_ag: true
        priority: 5
      register: launch
      # A lost answer cannot start a second scan: reuse_active finds the first one.
      retries: 2
      until: launch is succeeded

- name: Resume a launch intended by a run that was killed while Qualys answered it
  roamscan.qualys.qualys_scan_launch:
    targets: "{{ intent_ips }}"
    resume:
      title: roamscan 2026-12-01T09:00:00Z
      since: "2026-12-01T09:00:05Z"
    option_profile: Laptop Light Scan
    scanner: [laptop_scanner_1]
  register: launch
  # launch.scans[0].reused is true and launch.scans[0].state may be Finished: credit it as usual.
'''

RETURN = r'''
scans:
  description:
    - One entry per launch (or reused active scan). In check mode the planned launches, with
      RV(scans[].ref) and RV(scans[].id) null.
  returned: always
  type: list
  elements: dict
  contains:
    ref:
      description: Scan reference, the key for M(roamscan.qualys.qualys_scan_status).
      type: str
      sample: scan/1795849945.00001
    id:
      description: Numeric scan ID (null for a reused scan, whose ID the scan list does not carry).
      type: str
      sample: "100001"
    title:
      description: Title the scan was launched with.
      type: str
      sample: roamscan office-b
    targets:
      description: Targets of this launch (single IPs and merged ranges).
      type: list
      elements: str
      sample: [10.20.0.15, 10.20.4.0-10.20.4.40]
    reused:
      description: True when a scan Qualys already had was returned instead of launching.
      type: bool
      sample: false
    state:
      description:
        - State Qualys listed for a reused scan (V(Queued), V(Running), V(Finished), V(Canceled), V(Error),
          V(Paused), ...); null for a scan this task launched (and in check mode).
      type: str
      sample: Finished
scan_refs:
  description: The RV(scans[].ref) values, for convenience.
  returned: always
  type: list
  elements: str
  sample: [scan/1795849945.00001]
api_calls:
  description: Qualys API calls this task made, retries included.
  returned: always
  type: int
  sample: 2
api_usage:
  description:
    - Per Qualys API used (V(scan_launch), V(scan_list), V(scan_fetch), V(host_list)) - the calls of this task and
      what Qualys last answered about that API's limits; the scan cycle's budget governor keeps it in the store.
  returned: always
  type: dict
  sample: {"scan_list": {"calls": 1, "limit": 300, "window_sec": 3600, "remaining": 297, "to_wait_sec": 0,
           "concurrency_limit": 2, "concurrency_running": 1, "blocked_code": null}}
rate_limit:
  description: Rate-limit headers of the launch API from its last answer (null values when none was seen).
  returned: always
  type: dict
  contains:
    limit:
      description: Calls allowed in the window.
      type: int
      sample: 300
    remaining:
      description: Calls left in the window.
      type: int
      sample: 297
    window_sec:
      description: Length of the rolling window in seconds.
      type: int
      sample: 3600
'''

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import QualysError
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_module import QualysModule
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_scans import (
    LaunchIncomplete,
    launch_plan,
    plan_launches,
)
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_targets import InvalidTarget
from ansible_collections.roamscan.qualys.plugins.module_utils._scan_choice import InvalidScanChoice, check_scan_choice
from ansible_collections.roamscan.qualys.plugins.module_utils._time import normalize_time


def launch_options(params):
    """API parameters shared by every launch of this task."""
    options = {}
    if params['option_profile'] is not None:
        options['option_title'] = params['option_profile']
    else:
        options['option_id'] = str(params['option_profile_id'])
    if params['scanner']:
        options['iscanner_name'] = ','.join(params['scanner'])
    elif params['scanner_ids']:
        options['iscanner_id'] = ','.join(str(i) for i in params['scanner_ids'])
    elif params['default_scanner']:
        options['default_scanner'] = '1'
    elif params['scanners_in_ag']:
        options['scanners_in_ag'] = '1'
    if params['priority'] is not None:
        options['priority'] = str(params['priority'])
    return options


def check_resume(module):
    """The intent's time (canonical) when resuming, else None; makes O(title) default to O(resume.title)."""
    resume = module.params['resume']
    if not resume:
        return None
    if module.params['title'] is None:
        module.params['title'] = resume['title']
    elif module.params['title'] != resume['title']:
        module.fail_json(msg='title (%s) and resume.title (%s) differ: a resumed launch keeps its intent\'s title'
                             % (module.params['title'], resume['title']))
    try:
        return normalize_time(resume['since'])
    except ValueError as exc:
        module.fail_json(msg='resume.since: %s' % exc)


def main():
    module = QualysModule(
        argument_spec=dict(
            targets=dict(type='list', elements='str', required=True),
            option_profile=dict(type='str'),
            option_profile_id=dict(type='int'),
            scanner=dict(type='list', elements='str'),
            scanner_ids=dict(type='list', elements='int'),
            default_scanner=dict(type='bool', default=False),
            scanners_in_ag=dict(type='bool', default=False),
            external_scanners=dict(type='bool', default=False),
            title=dict(type='str'),
            priority=dict(type='int'),
            max_targets_per_scan=dict(type='int'),
            reuse_active=dict(type='bool', default=True),
            recover_lost=dict(type='bool', default=False),
            resume=dict(type='dict', options=dict(
                title=dict(type='str', required=True),
                since=dict(type='str', required=True),
            )),
        ),
        mutually_exclusive=[('option_profile', 'option_profile_id')],
        required_one_of=[('option_profile', 'option_profile_id'), ('title', 'resume')],
        supports_check_mode=True,
    )
    params = module.params
    resume_since = check_resume(module)
    try:
        check_scan_choice(params)
    except InvalidScanChoice as exc:
        module.fail_json(msg=str(exc))
    if not params['title'].strip() or len(params['title']) > 1900:
        module.fail_json(msg='title must be non-empty and at most 1900 characters (Qualys allows 2000 with the '
                             'split suffix)')
    try:
        plan = plan_launches(params['targets'], params['title'], params['max_targets_per_scan'])
    except InvalidTarget as exc:
        module.fail_json(msg='invalid targets, nothing launched: %s' % exc)
    if not plan:
        module.fail_json(msg='targets is empty, nothing to launch')

    if module.check_mode:
        scans = [{'ref': None, 'id': None, 'title': item['title'], 'targets': item['targets'], 'reused': False,
                  'state': None} for item in plan]
        module.exit_json(changed=True, scans=scans, scan_refs=[], api_calls=0,
                         rate_limit={'limit': None, 'remaining': None, 'window_sec': None})

    client = module.qualys_client()
    try:
        scans = launch_plan(client, plan, launch_options(params), params['username'],
                            reuse_active=params['reuse_active'], warn=module.warn, resume_since=resume_since,
                            recover_lost=params['recover_lost'])
    except LaunchIncomplete as exc:
        module.fail_qualys(exc, scans=exc.scans, scan_refs=[s['ref'] for s in exc.scans],
                           changed=any(not s['reused'] for s in exc.scans))
    except QualysError as exc:
        module.fail_qualys(exc)
    module.exit_json(changed=any(not s['reused'] for s in scans), scans=scans,
                     scan_refs=[s['ref'] for s in scans], api_calls=client.api_calls,
                     rate_limit=client.rate_limit('scan_launch'))


if __name__ == '__main__':
    main()
