# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
from __future__ import annotations

from ansible_collections.roamscan.qualys.plugins.plugin_utils import _coverage
from ansible_collections.roamscan.qualys.tests.unit.plugins.plugin_utils.cycle_fakes import A, B, C, X, Y, NOW, present


def test_coverage_counts_recently_seen_and_lists_overdue():
    recent_scanned = present(A, X, last_scanned='2026-11-20T00:00:00Z')
    recent_unscanned = present(B, Y)
    long_gone = present(C, '10.77.0.102', seen='2026-09-01T00:00:00Z', first_seen='2026-08-01T00:00:00Z')
    long_gone['lease_state'] = 'expired'
    result = _coverage.coverage({A: recent_scanned, B: recent_unscanned, C: long_gone}, NOW, 30, 30)
    assert (result['seen'], result['scanned'], result['share']) == (2, 1, 0.5)
    assert [item['mac'] for item in result['overdue']] == [B, C]
    assert result['overdue'][0]['present'] and not result['overdue'][1]['present']
    assert _coverage.coverage({}, NOW, 30, 30)['share'] is None
