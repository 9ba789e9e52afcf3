# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cycle interrupted at a stage, and the cycles after it: the kill points, the moment the simulator suites start
each interrupted run from, and what must hold once the cycles are quiet again (tests/functional/test_scan_cycle_crash.py,
tests/e2e/test_scan_cycle_store_faults.py; tests/e2e/test_scan_cycle_crash_kea.py with a real Kea).

The start: laptops A and B wait for their finished scan S1, C has just arrived (lease table), E is seen only through
an event in the DHCP spool. The interrupted cycle would credit A and B, launch one scan for C, acknowledge the spool
and write its history."""
from __future__ import annotations

import collections
import shutil

from cycle_lab import hook_line, launch_call_ips, launch_calls, summary_of

# Where a run is interrupted: (stage, its last task the lab's DHCP server runs) in playbooks/scan_overdue.yml, in
# order ("intent" is verify's last step; the VPN and WireGuard tasks of the re-read are skipped for a DHCP server).
# A kill after one stage is also the kill before the next: no task runs between them (the liveness probe is skipped
# unless roamscan_liveness_probe) and a task not started has done nothing. So "before collect" (the cycle lease
# taken, nothing read) and "after" each stage are every distinct kill point.
CYCLE_STAGES = [   # (stage, the start of the name of the task that ends it: exactly one task's, test_scan_cycle_crash checks)
    ('collect', "Collect | Read the VPN concentrators' syslog"),      # the last collect task
    ('remember', 'Remember | Fold the presence'),
    ('confirm', 'Confirm | Credit devices'),
    ('decide', 'Decide | Choose who to scan now'),
    ('verify', 'Verify | Re-read the DHCP lease table'),
    ('intent', 'Verify | Record the launch intent'),
    ('launch', 'Launch | One scan'),
    ('record', 'Record | Record the launched scan'),
    ('acknowledge', 'Acknowledge | Move the VPN syslog cursor'),      # the last acknowledge task
    ('summary', 'Summary | Summarise the cycle'),      # builds the summary, writes the history, releases the lease
]
KILL_POINTS = dict([('before-collect', 'before:' + CYCLE_STAGES[0][1])] + [
    ('after-%s' % stage, 'after:' + task) if index + 1 == len(CYCLE_STAGES) else
    ('after-%s-before-%s' % (stage, CYCLE_STAGES[index + 1][0]), 'after:' + task) for index, (stage, task) in enumerate(CYCLE_STAGES)])

A, B, C, E = '02:77:00:00:0a:01', '02:77:00:00:0b:02', '02:77:00:00:0c:03', '02:77:00:00:0e:05'
IP = {A: '10.77.0.100', B: '10.77.0.101', C: '10.77.0.102', E: '10.77.0.103'}
HOST = {mac: 'mac-' + mac.replace(':', '') for mac in IP}
# an intent was recorded and its scan ref not yet: the next run resumes that launch
RESUMES_LAUNCH = {'after-intent-before-launch', 'after-launch-before-record'}


def prepare_start(lab, sim):
    """Bring ``lab`` (and ``sim``, reset) to the start; returns the simulator's saved state."""
    sim.state.reset()
    lab.write_leases('dhcp1', [(IP[A], A), (IP[B], B)])
    first = lab.run(sim)
    assert first.returncode == 0, first.stdout[-3000:]
    assert [sorted(launch_call_ips(call)) for call in launch_calls(sim)] == [[IP[A], IP[B]]]
    sim.state.scan_action('*', 'process')                       # S1 found A and B
    lab.write_leases('dhcp1', [(IP[A], A), (IP[B], B), (IP[C], C)])
    lab.append_spool('dhcp1', hook_line(E, IP[E]))
    return sim.state.save()


def copy_start(started, lab, sim, saved):
    """Put the started lab's DHCP server files and store, and the simulator's state, into ``lab``/``sim``."""
    sim.state.restore(saved)
    shutil.copytree(started.root / 'dhcp1', lab.root / 'dhcp1', symlinks=True, dirs_exist_ok=True)
    shutil.copytree(started.cache_dir, lab.cache_dir, symlinks=True, dirs_exist_ok=True)


def assert_quiet_and_whole(lab, sim, summaries):
    """What a user sees once the cycles are quiet again: S1 for A and B, one scan for C and no other, each credited
    by the finished scan of its IP, nobody twice; E remembered and never scanned; the spool drained."""
    scans = {scan['ref']: scan for scan in sim.state.snapshot()['scans']}
    assert sorted(sorted(launch_call_ips(call)) for call in launch_calls(sim)) == [[IP[A], IP[B]], [IP[C]]]
    assert len(scans) == 2, 'a second scan of the same laptops: %r' % scans
    credited = collections.Counter(mac for summary in summaries for mac in summary['credited'])
    assert all(count == 1 for count in credited.values()), 'credited twice: %r' % credited
    records, groups = lab.inventory()
    by_target = {tuple(launch_call_ips({'params': {'ip': scan['target']}})): ref for ref, scan in scans.items()}
    assert {mac: records[HOST[mac]]['last_scan_ref'] for mac in (A, B, C)} == {
        A: by_target[(IP[A], IP[B])], B: by_target[(IP[A], IP[B])], C: by_target[(IP[C],)]}
    for mac in (A, B, C):
        record, scan = records[HOST[mac]], scans[records[HOST[mac]]['last_scan_ref']]
        assert scan['state'] == 'Finished' and scan['processed'] == '1' and record['ip'] == IP[mac]
        assert record['held_since'] <= scan['launched'] and record['pending'] is None
    assert not groups.get('roaming_pending')
    # E was only ever in the spool: remembered, never scanned (its IP is not leased), and the spool is drained
    assert records[HOST[E]]['ip'] == IP[E] and records[HOST[E]]['last_scanned'] is None
    assert lab.unacknowledged('dhcp1') == []
    assert summaries[-1]['known'] == 4 and summaries[-1]['overdue'] == 1


def run_until_quiet(lab, sim, finish_scans, after='the kill', limit=4):
    """Run cycles (each must end green, with no fault and no corrupt store entry) until one launches nothing and
    leaves nothing pending, calling ``finish_scans()`` between two cycles; returns their summaries."""
    summaries = []
    for number in range(1, limit + 1):
        proc = lab.run(sim)
        assert proc.returncode == 0, 'cycle %d after %s:\n%s' % (number, after, proc.stdout[-4000:])
        summary = summary_of(proc)
        summaries.append(summary)
        assert summary['fault'] is None and summary['corrupt_cache_entries'] == [], summary
        if summary['launched'] == [] and summary['pending'] == 0:
            return summaries
        finish_scans()
    raise AssertionError('not quiet %d cycles after %s: %r' % (limit, after, summaries[-1]))
