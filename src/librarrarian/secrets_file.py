"""Credentials the embedded default generates once and keeps in its data directory (mode 0600)."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path

FILE_NAME = "credentials.json"


def load_or_create(data_dir: Path) -> dict[str, str]:
    path = data_dir / FILE_NAME
    if path.exists():
        values: dict[str, str] = json.loads(path.read_text())
    else:
        values = {}
    wanted: dict[str, Callable[[], str]] = {
        "nats_password": lambda: secrets.token_urlsafe(24),
        "admin_user": lambda: "admin",
        "admin_password": lambda: secrets.token_urlsafe(12),
        "api_key": lambda: secrets.token_urlsafe(32),
    }
    changed = False
    for key, make in wanted.items():
        if key not in values:
            values[key] = make()
            changed = True
    if changed:
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return values
