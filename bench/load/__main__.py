"""``python -m bench.load [--jobs N] [--waiting N] [--nodes N] [--keep]``: the load run (see
:mod:`bench.load`). Exits 1 when something was lost, stuck, committed twice or left running."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .report import JOBS, NODES, WAITING, run_and_report


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--jobs", type=int, default=JOBS, help="small jobs to encode (default: %(default)s)")
    parser.add_argument("--waiting", type=int, default=WAITING, help="waiting jobs (default: %(default)s)")
    parser.add_argument("--nodes", type=int, default=NODES, help="encoder nodes (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary library, data and logs")
    args = parser.parse_args()
    # A smaller run does not overwrite the last full run's report.
    full = (args.jobs, args.waiting, args.nodes) == (JOBS, WAITING, NODES)
    found = asyncio.run(
        run_and_report(args.jobs, args.waiting, args.nodes, args.keep, "load" if full else "load-small")
    )
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()
