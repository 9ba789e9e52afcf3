# -*- coding: utf-8 -*-
# Copyright: roamscan.qualys contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:

    # Connection options shared by every Qualys module (QUALYS_CONNECTION_ARGSPEC).
    DOCUMENTATION = r'''
options:
  api_url:
    description:
      - Base URL of the Qualys API server, for example V(https://qualysapi.qg2.apps.qualys.com).
      - Use it for private cloud platforms; otherwise set O(platform).
      - Exactly one of O(api_url) and O(platform) is required.
      - Plain C(http) is accepted only for loopback addresses (test simulators); Basic auth never
        crosses a network in clear text.
      - If not set, the value of the E(QUALYS_API_URL) environment variable is used.
    type: str
  platform:
    description:
      - Qualys shared platform of the account (see U(https://www.qualys.com/platform-identification)).
      - A wrong platform answers like a wrong password (Qualys code 2000).
      - If not set, the value of the E(QUALYS_PLATFORM) environment variable is used.
    type: str
    choices: [US1, US2, US3, US4, EU1, EU2, EU3, IN1, CA1, AE1, UK1, AU1, KSA1]
  username:
    description:
      - Qualys API user (a non-SSO user with API access).
      - If not set, the value of the E(QUALYS_USERNAME) environment variable is used; one of them is required.
    type: str
  password:
    description:
      - Password of O(username). Sent only in the HTTP Basic C(Authorization) header, never in a URL.
      - If not set, the value of the E(QUALYS_PASSWORD) environment variable is used; one of them is required.
    type: str
  validate_certs:
    description:
      - Verify the TLS certificate of the API server.
    type: bool
    default: true
  timeout:
    description:
      - Seconds to wait for one HTTP answer (connect timeout is capped at 30 seconds).
    type: int
    default: 120
  max_wait:
    description:
      - Longest total time, in seconds, the module sits through Qualys API throttling (HTTP 409)
        in one run.
      - When Qualys answers a rate limit (code 1965) with a wait longer than what is left of
        O(max_wait), the module fails at once with a message that names the wait, instead of
        sleeping or retrying.
      - Concurrency blocks (code 1960) are retried with a short, jittered, bounded back-off that also
        counts against O(max_wait).
      - V(0) never waits.
    type: int
    default: 300
notes:
  - Qualys limits API calls per subscription and per API (the Standard service allows 300 calls per
    hour and 2 concurrent calls); parallel forks share them. The modules batch work to spend few
    calls and report what they spent in C(api_calls).
  - Run these modules on the controller (a play on C(localhost), or C(delegate_to) C(localhost)), so
    the credentials stay there.
requirements:
  - requests
  - defusedxml
'''

    # Attributes shared by every Qualys module: action group membership, controller-only, no diff.
    ATTRIBUTES = r'''
options: {}
attributes:
  action_group:
    description: Use C(group/roamscan.qualys.qualys) in C(module_defaults) to set defaults for this module.
    support: full
    membership:
      - roamscan.qualys.qualys
  diff_mode:
    support: none
  platform:
    platforms: posix
'''

    # check_mode attribute of the modules that only read from Qualys.
    READ_ONLY = r'''
options: {}
attributes:
  check_mode:
    description: Only reads from Qualys, so it runs normally in check mode.
    support: full
'''
