#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: qualys_login_check
short_description: Prove that the Qualys account and API URL work, with one small read-only call
version_added: 0.2.0
description:
  - Makes B(one) scan list call for the last scan the account launched (C(show_last=1)), so a
    rotated or wrong password, a locked account or a wrong API URL fails the task the day it
    happens, not when a laptop is missed.
  - The answer carries at most one scan, whatever the subscription holds. The call counts against
    the scan list API's rate limit, as a status poll of M(roamscan.qualys.qualys_scan_status) does.
  - The scan cycle runs it only when no other Qualys call of the cycle proved the login
    (C(roamscan_credential_check)).
author:
  - roamscan maintainers (@roamscan)
extends_documentation_fragment:
  - roamscan.qualys.qualys.read_only
  - ansible.builtin.action_common_attributes
  - roamscan.qualys.qualys
  - roamscan.qualys.qualys.attributes
options: {}
seealso:
  - module: roamscan.qualys.qualys_scan_status
'''

EXAMPLES = r'''
- name: Fail today if the Qualys password was rotated
  roamscan.qualys.qualys_login_check:
    platform: EU2
    username: "{{ qualys_user }}"
    password: "{{ qualys_password }}"
  delegate_to: localhost
'''

RETURN = r'''
account:
  description: The Qualys user the call logged in as.
  returned: success
  type: str
  sample: scans_api_user
api_url:
  description: The API server the call reached.
  returned: success
  type: str
  sample: https://qualysapi.qg2.apps.qualys.com
last_scan:
  description: The last scan the account launched (any state), null when it launched none in the last 30 days.
  returned: success
  type: dict
  contains:
    ref:
      description: Scan reference.
      type: str
      sample: scan/1764590400.00042
    launched:
      description: Launch time (UTC).
      type: str
      sample: "2026-12-01T12:00:00Z"
    state:
      description: Qualys scan state.
      type: str
      sample: Finished
api_calls:
  description: Qualys API calls this task made (1).
  returned: always
  type: int
  sample: 1
'''

from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_errors import QualysError
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_module import QualysModule
from ansible_collections.roamscan.qualys.plugins.module_utils._qualys_scans import last_scan_of


def main():
    module = QualysModule(argument_spec={}, supports_check_mode=True)
    client = module.qualys_client()
    try:
        last = last_scan_of(client, module.params['username'])
    except QualysError as exc:
        module.fail_qualys(exc)
    module.exit_json(changed=False, account=module.params['username'], api_url=client.base_url, last_scan=last,
                     api_calls=client.api_calls)


if __name__ == '__main__':
    main()
