# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""python -m qualys_sim --port 8443   (with tests/support on PYTHONPATH)."""
from __future__ import annotations

import argparse
import json
import os
import sys

from .server import QualysSimulator


def main(argv=None):
    parser = argparse.ArgumentParser(prog='qualys_sim', description='Strict Qualys VM API simulator (loopback only).')
    parser.add_argument('--host', default='127.0.0.1', help='bind address (default 127.0.0.1; keep it loopback)')
    parser.add_argument('--port', type=int, default=0, help='port (default: any free port)')
    parser.add_argument('--username', default='roamscan_api')
    parser.add_argument('--password', default=os.environ.get('QUALYS_SIM_PASSWORD', 'sim-password'),
                        help='default: $QUALYS_SIM_PASSWORD (keeps it out of the process list), else sim-password')
    parser.add_argument('--config', help='JSON object merged into the default config (timings, limits, ...)')
    args = parser.parse_args(argv)
    config = json.loads(args.config) if args.config else None
    sim = QualysSimulator(args.host, args.port, args.username, args.password, config=config)
    print(sim.url, flush=True)
    try:
        sim.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
