"""``python -m bench [NAME ...]``: run the benchmarks (all by default) and print their reports."""

from __future__ import annotations

import argparse
import asyncio
import importlib

BENCHES = (
    "overhead",
    "memory",
    "scan",
    "ui",
    "security",
    "security_api",
    "load",
    "quality",
    "chunked",
    "segments",
)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[*BENCHES, []], metavar="NAME", help=", ".join(BENCHES))
    args = parser.parse_args()
    for name in args.names or BENCHES:
        module = importlib.import_module(f"bench.{name}")
        asyncio.run(module.main())


if __name__ == "__main__":
    main()
