"""One log format for every service: one line per state change, the service named."""

from __future__ import annotations

import logging
import os
import sys

from . import env

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def configure(service: str) -> None:
    """Every service's first call: ``LOG_LEVEL`` (one of :data:`LEVELS`, any case; INFO) for its own lines;
    chatty libraries stay at warnings whatever it says. A bad value stops the service with the variable
    named."""
    level = (os.environ.get("LOG_LEVEL") or "INFO").strip().upper()
    if level not in LEVELS:
        raise env.SettingsError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level.lower()!r}")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        # Milliseconds: the moments between two jobs on a node (and most round trips) are that short.
        logging.Formatter(
            f"%(asctime)s.%(msecs)03d %(levelname)-7s {service:<9} %(message)s", "%Y-%m-%d %H:%M:%S"
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # authlib logs PKCE verifiers at debug level: never below warnings.
    for noisy in ("nats", "asyncio", "uvicorn.access", "httpx", "pgserver", "authlib", "httpx2"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
