# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Presence receiver throughput and POST -> spool latency, durability on, against baselines in the same run.

1. events per second through the real receiver (one event per POST, and 100 per POST), every
   answer 200 only after the one O_APPEND write + fsync;
2. the latency from a one-event POST to the event being in the spool (p50, p95): the receiver
   answers only after the write + fsync, and the bench checks at every answer that the spool grew,
   so POST -> 200 bounds POST -> in the spool;
3. baselines on the same file system in the same run: a plain O_APPEND write of the same record (no
   fsync; its rate and per-append latency), and a write + fsync (the floor the receiver's
   durability costs). Ratios are printed, not asserted.

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


def appends(path, seconds, durable):
    """(appends per second, per-append latencies) of open + O_APPEND write (+ fsync) + close."""
    latencies, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        began = time.perf_counter()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            os.write(fd, b'\n' + RECORD)
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        latencies.append(time.perf_counter() - began)
    return len(latencies) / seconds, latencies


def spool_size(lab):
    try:
        return os.stat(lab.spool_dir / 'current').st_size
    except FileNotFoundError:
        return 0


def receiver_rate(lab, seconds, per_post, start):
    """(events per second, POST -> 200 latencies, next event number); fails if an answered event is not in the spool."""
    latencies, n, deadline = [], start, time.monotonic() + seconds
    while time.monotonic() < deadline:
        body = '\n'.join(event(n + k) for k in range(per_post))
        before = spool_size(lab)
        began = time.perf_counter()
        status, _answer = lab.post('/v1/presence/ndjson', body, lab.bearer('ndjson'))
        latencies.append(time.perf_counter() - began)
        if status == 429:
            raise SystemExit('rate limited: raise the bench endpoint rate')
        assert status == 200, status
        assert spool_size(lab) > before, 'answered 200 before the event was in the spool'
        n += per_post
    return (n - start) / seconds, latencies, n


ROUND_SECONDS = 0.5


def measure(lab, base, seconds):
    """Every measurement in alternating rounds of ROUND_SECONDS, so that load from other work on the machine falls on
    the receiver and its baselines alike: ``{name: (per second, latencies)}`` and the events posted."""
    found = {name: [0, []] for name in ('single', 'batched', 'plain', 'fsynced')}
    n, rounds = 0, max(1, round(seconds / ROUND_SECONDS))
    for dummy in range(rounds):
        for name, per_post in (('single', 1), ('batched', 100)):
            dummy, latencies, n_after = receiver_rate(lab, ROUND_SECONDS, per_post, n)
            found[name][0] += n_after - n
            found[name][1] += latencies
            n = n_after
        for name, durable in (('plain', False), ('fsynced', True)):
            dummy, latencies = appends(os.path.join(base, name), ROUND_SECONDS, durable)
            found[name][0] += len(latencies)
            found[name][1] += latencies
    return {name: (count / (rounds * ROUND_SECONDS), latencies) for name, (count, latencies) in found.items()}, n


def p50_ms(latencies):
    return statistics.median(latencies) * 1000


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=3.0, help='time per measurement, spread over rounds')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='roamscan-bench-receiver-') as base:
        lab = ReceiverLab(base)
        config = json.loads(lab.config_path.read_text())
        config['endpoints']['ndjson'].update(rate=100000, burst=100000)
        lab.config_path.write_text(json.dumps(config))
        lab.start()
        try:
            found, n = measure(lab, base, args.seconds)
        finally:
            lab.stop()
        written = len(lab.spool_lines())
    (single, latencies), (batched, dummy) = found['single'], found['batched']
    (plain, plain_latencies), (fsynced, fsync_latencies) = found['plain'], found['fsynced']
    p95 = statistics.quantiles(latencies, n=20)[18] * 1000
    print('records written and fsynced by the receiver: %d (expected %d)' % (written, n))
    print('baseline plain O_APPEND write:      %10.0f records/s' % plain)
    print('baseline O_APPEND write + fsync:    %10.0f records/s' % fsynced)
    print('receiver, 1 event per POST:         %10.0f events/s  (%.3f x write+fsync, %.4f x plain)'
          % (single, single / fsynced, single / plain))
    print('receiver, 100 events per POST:      %10.0f events/s  (%.2f x write+fsync, %.3f x plain)'
          % (batched, batched / fsynced, batched / plain))
    print('POST -> in the spool (fsynced, answered 200 after it): p50 %.2f ms, p95 %.2f ms' % (p50_ms(latencies), p95))
    print('  against one plain append (p50 %.3f ms): %.0f x;  against one write+fsync (p50 %.2f ms): %.1f x'
          % (p50_ms(plain_latencies), p50_ms(latencies) / p50_ms(plain_latencies), p50_ms(fsync_latencies),
             p50_ms(latencies) / p50_ms(fsync_latencies)))


if __name__ == '__main__':
    main()
