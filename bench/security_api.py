"""What the gateway's doors let through, counted on a real gateway: every route of the OpenAPI document and
every page, called by nobody, a wrong key, a ``read``, ``control`` and ``admin`` key, a ``read`` user's
session and an admin's session from another site's page (the route-matrix test,
``services/gateway/tests/test_route_matrix.py``, which writes ``bench/out/security-api.json``); reports how
many calls had to be refused and how many got through (the goal, and what the test demands: none)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
TEST = "services/gateway/tests/test_route_matrix.py"


async def main() -> None:
    print("security-api: every route and page by every kind of caller, on a real gateway …", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-security-api-") as tmp:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pytest",
            TEST,
            "-q",
            "-p",
            "no:cacheprovider",
            cwd=ROOT,
            env={**os.environ, "TMPDIR": tmp},
        )
        code = await process.wait()
    report = json.loads((OUT / "security-api.json").read_text())
    lines = [
        f"\nsecurity-api: {report['routes']} routes and pages by {len(report['callers'])} kinds of caller"
        f" (test exit {code})",
        f"  calls that had to be refused: {report['tried']}, got through: {report['got_through']}",
    ]
    for name, counts in report["by_caller"].items():
        lines.append(f"    {name:<24} tried {counts['tried']:>3}, got through {counts['got_through']}")
        lines += [f"      through: {line}" for line in counts["through"]]
    lines.append(f"  written to {OUT / 'security-api.json'}")
    print("\n".join(lines))
