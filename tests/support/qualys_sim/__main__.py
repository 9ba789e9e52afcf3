# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m qualys_sim --port 8443 [--fast]   (with tests/support on PYTHONPATH): serve, logging each request.
python -m qualys_sim --port 8443 --advance 900: move the clock of the simulator running on that port."""
from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request

from .server import ADMIN_PREFIX, QualysSimulator

# A scan lifecycle short enough to watch the cycle confirm within a minute: queued 5 s, running 20 s,
# finished and processed 10 s later.
FAST = {'queue_seconds': 5, 'scan_seconds': 20, 'process_seconds': 10}


def advance(host, port, seconds):
    """POST /_sim/clock on a running simulator; prints its new time."""
    request = urllib.request.Request('http://%s:%d%sclock' % (host, port, ADMIN_PREFIX), method='POST',
                                     data=json.dumps({'advance': seconds}).encode(), headers={'Content-Type': 'application/json'})
    with urllib.request.urlopen(request, timeout=10) as answer:   # loopback only: the admin API of our own simulator
        print(json.load(answer)['now'])
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog='qualys_sim', description='Strict Qualys VM API simulator (loopback only).')
    parser.add_argument('--host', default='127.0.0.1', help='bind address (default 127.0.0.1; keep it loopback)')
    parser.add_argument('--port', type=int, default=0, help='port (default: any free port)')
    parser.add_argument('--username', default='roamscan_api')
    parser.add_argument('--password', default=os.environ.get('QUALYS_SIM_PASSWORD', 'sim-password'),
                        help='default: $QUALYS_SIM_PASSWORD (keeps it out of the process list), else sim-password')
    parser.add_argument('--config', help='JSON object merged into the default config (timings, limits, ...)')
    parser.add_argument('--fast', action='store_true',
                        help='scans finish and are processed %d s after launch (instead of about 18 minutes)' % sum(FAST.values()))
    parser.add_argument('--advance', type=float, metavar='SECONDS',
                        help='do not serve: move the clock of the simulator already running on --host/--port')
    parser.add_argument('--quiet', action='store_true', help='no request log on standard error')
    args = parser.parse_args(argv)
    if args.advance is not None:
        return advance(args.host, args.port, args.advance)
    config = dict(FAST) if args.fast else {}
    config.update(json.loads(args.config) if args.config else {})
    sim = QualysSimulator(args.host, args.port, args.username, args.password, config=config or None,
                          request_log=None if args.quiet else sys.stderr)
    print(sim.url, flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
