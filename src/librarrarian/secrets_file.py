"""Credentials the embedded default generates once and keeps in its data directory (mode 0600): a NATS
password per user, a PostgreSQL password per service role and for the superuser, the first login and API key."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from collections.abc import Callable, Sequence
from pathlib import Path

from librarrarian_contracts.permissions import users
from librarrarian_runtime.database_roles import SCHEMAS

FILE_NAME = "credentials.json"
# Kept by older versions for their one NATS user; it opens nothing now.
RETIRED = ("nats_password",)


def nats_key(user: str) -> str:
    return f"nats_{user}_password"


def postgres_key(service: str) -> str:
    return f"postgres_{service}_password"


POSTGRES_ADMIN = "postgres_admin_password"


def _password() -> str:
    return secrets.token_urlsafe(24)


def wanted(remote_nodes: Sequence[str] = ()) -> dict[str, Callable[[], str]]:
    found: dict[str, Callable[[], str]] = {nats_key(user): _password for user in users(remote_nodes)}
    found |= {postgres_key(service): _password for service in SCHEMAS}
    found |= {
        POSTGRES_ADMIN: _password,
        "admin_user": lambda: "admin",
        "admin_password": lambda: secrets.token_urlsafe(12),
        "api_key": lambda: secrets.token_urlsafe(32),
    }
    return found


def load_or_create(data_dir: Path, remote_nodes: Sequence[str] = ()) -> dict[str, str]:
    """The data directory's credentials, with any that are missing generated and written (mode 0600); with
    ``remote_nodes``, a NATS password for each node without the library too."""
    path = data_dir / FILE_NAME
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for key in RETIRED:
        changed |= values.pop(key, None) is not None
    for key, make in wanted(remote_nodes).items():
        if key not in values:
            values[key] = make()
            changed = True
    if changed or (path.exists() and path.stat().st_mode & 0o077):
        tmp = path.with_suffix(".tmp")
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()  # created afresh, so it has our mode whatever an old one had
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    return values
