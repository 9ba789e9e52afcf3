# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Presence receiver throughput and POST -> spool latency, durability on, against baselines in the same run.

1. events per second through the real receiver (one event per POST, and 100 per POST), every
   answer 200 only after the one O_APPEND write + fsync;
2. the POST -> 200 latency (p50, p95) of a one-event POST;
3. baselines on the same file system: a plain O_APPEND write of the same record (no fsync), and a
   write + fsync (the floor the receiver's durability costs). Ratios are printed, not asserted.

Usage: .venv/py312/bin/python bench/receiver.py [--seconds 3]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests' / 'support'))

from receiver_lab import ReceiverLab  # noqa: E402  pylint: disable=wrong-import-position

RECORD = ('rs2 00000000-0000-0000-0000-000000000000 100.00 1 receiver connect vpn_user bench00001 10.8.0.5 - - '
          'eid=0123456789abcdef01234567 .\n').encode()


def event(n):
    return json.dumps({'event': 'start', 'identity': {'kind': 'vpn_user', 'value': 'bench%07d' % n},
                       'ip': '10.8.%d.%d' % (n // 250 % 250, n % 250 + 1), 'time': int(time.time()),
                       'event_id': 'bench-%d' % n})


def appends_per_second(path, seconds, durable):
    count, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, b'\n' + RECORD)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        count += 1
    return count / seconds


def receiver_rate(lab, seconds, per_post, start):
    latencies, n, deadline = [], start, time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = '\n'.join(event(n + k) for k in range(per_post))
        began = time.perf_counter()
        status, _answer = lab.post('/v1/presence/ndjson', body, lab.bearer('ndjson'))
        latencies.append(time.perf_counter() - began)
        if status == 429:
            raise SystemExit('rate limited: raise the bench endpoint rate')
        assert status == 200, status
        n += per_post
    return (n - start) / seconds, latencies, n


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=3.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='roamscan-bench-receiver-') as base:
        lab = ReceiverLab(base)
        config = json.loads(lab.config_path.read_text())
        config['endpoints']['ndjson'].update(rate=100000, burst=100000)
        lab.config_path.write_text(json.dumps(config))
        lab.start()
        try:
            single, latencies, n = receiver_rate(lab, args.seconds, 1, 0)
            batched, _latencies, n = receiver_rate(lab, args.seconds, 100, n)
        finally:
            lab.stop()
        written = len(lab.spool_lines())
        plain = appends_per_second(os.path.join(base, 'plain'), args.seconds, durable=False)
        fsynced = appends_per_second(os.path.join(base, 'fsynced'), args.seconds, durable=True)
    p50 = statistics.median(latencies) * 1000
    p95 = statistics.quantiles(latencies, n=20)[18] * 1000
    print('records written and fsynced by the receiver: %d (expected %d)' % (written, n))
    print('baseline plain O_APPEND write:      %10.0f records/s' % plain)
    print('baseline O_APPEND write + fsync:    %10.0f records/s' % fsynced)
    print('receiver, 1 event per POST:         %10.0f events/s  (%.3f x write+fsync, %.4f x plain)'
          % (single, single / fsynced, single / plain))
    print('receiver, 100 events per POST:      %10.0f events/s  (%.2f x write+fsync, %.3f x plain)'
          % (batched, batched / fsynced, batched / plain))
    print('POST -> 200 (durable) latency:      p50 %.2f ms, p95 %.2f ms  (p50 = %.1f x one write+fsync)'
          % (p50, p95, p50 / (1000.0 / fsynced)))


if __name__ == '__main__':
    main()
