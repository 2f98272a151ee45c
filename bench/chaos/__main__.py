"""``python -m bench.chaos [--seed N] [--quick] [--injections N] [--keep]``: faults at seeded random moments on
the real cluster, invariants after every run; prints the table and saves it in ``bench/out/chaos.json``
(``chaos-quick.json`` in the quick mode) and beside it as text. Exits 1 when an invariant failed."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from dataclasses import asdict
from pathlib import Path

from . import report, runner, schedule

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("LIBRARRARIAN_SHARED_MEDIA", ROOT.parent / "shared" / "media"))
OUT = ROOT / "bench" / "out"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.chaos", description=__doc__)
    parser.add_argument("--seed", type=int, default=None, help="replays a run (printed at the start)")
    parser.add_argument("--quick", action="store_true", help=f"the quick set: {len(schedule.QUICK)} faults")
    parser.add_argument("--injections", type=int, default=None, help="how many runs (a fault each)")
    parser.add_argument("--only", action="append", choices=list(schedule.FAULTS), help="these faults only")
    parser.add_argument("--keep", action="store_true", help="keep the temporary library, data and log")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1, 1_000_000)
    mode = "quick" if args.quick else "full"
    plan = schedule.plan(seed, args.quick, args.injections, only=args.only)
    print(
        f"chaos: seed {seed}, {mode} mode, {len(plan)} fault injections (replay: --seed {seed})", flush=True
    )

    def progress(result: report.RunResult) -> None:
        recovery = "never" if result.recovery is None else f"{result.recovery:.1f} s"
        verdict = "ok" if not result.violations else f"{len(result.violations)} VIOLATION(S)"
        print(f"  run {result.run:3d} {result.fault:28s} delay {result.delay:4.2f} s  recovery {recovery:>8s}  "
              f"{result.files_checked} files  {verdict}  {'; '.join(result.notes)}", flush=True)  # fmt: skip
        for violation in result.violations:
            print(f"        {violation.kind}: {violation.detail}", flush=True)

    started = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    # A narrowed replay does not overwrite the last whole run's report.
    narrowed = args.only is not None or args.injections is not None
    name = "chaos-replay" if narrowed else ("chaos" if mode == "full" else "chaos-quick")
    log_copy = OUT / f"{name}-up.log"  # the cluster's own log, to read what a failure looked like
    results = asyncio.run(runner.run_all(plan, seed, SHARED, args.keep, progress, log_copy))
    table = report.rows(results)
    header = (
        f"chaos, seed {seed}, {mode} mode, {len(plan)} fault injections, {time.monotonic() - started:.0f} s"
    )
    text = report.text(table, header)
    failures = report.failures(results)
    print("\n" + text)
    if failures:
        print(f"\nfailures (replay with --seed {seed}):\n  " + "\n  ".join(failures))
    document = {
        "seed": seed,
        "mode": mode,
        "injections": len(plan),
        "table": table,
        "failures": failures,
        "runs": [asdict(r) for r in results],
    }
    (OUT / f"{name}.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    (OUT / f"{name}.txt").write_text(
        text + ("\n\nfailures:\n" + "\n".join(failures) if failures else "") + "\n"
    )
    print(f"\nsaved {OUT / name}.json and .txt, the cluster's log in {log_copy}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
