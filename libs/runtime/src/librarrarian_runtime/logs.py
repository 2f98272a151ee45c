"""One log format for every service: one line per state change, the service named."""

from __future__ import annotations

import logging
import os
import sys


def configure(service: str) -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter(f"%(asctime)s %(levelname)-7s {service:<9} %(message)s", "%Y-%m-%d %H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # authlib logs PKCE verifiers at debug level: never below warnings.
    for noisy in ("nats", "asyncio", "uvicorn.access", "httpx", "pgserver", "authlib", "httpx2"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
