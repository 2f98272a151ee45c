"""Reading settings from the environment: bad values fail at start with the variable named."""

from __future__ import annotations

import os
import socket
from enum import StrEnum
from pathlib import Path
from typing import TypeVar


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


def text(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None or value == "":
        raise SettingsError(f"{name} is required")
    return value


def optional(name: str) -> str | None:
    return os.environ.get(name) or None


def integer(name: str, default: int, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, not {value}")
    return value


def number(name: str, default: float, minimum: float | None = None, maximum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(f"{name} must be at most {maximum}, not {value}")
    return value


def flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise SettingsError(f"{name} must be true or false, not {raw!r}")


E = TypeVar("E", bound=StrEnum)


def choice(name: str, kind: type[E], default: E) -> E:
    """One of the values of a closed set, named by its value."""
    raw = (os.environ.get(name) or "").strip().lower()
    if not raw:
        return default
    try:
        return kind(raw)
    except ValueError:
        raise SettingsError(f"{name} must be one of {', '.join(kind)}, not {raw!r}") from None


def paths(name: str, required: bool = True) -> tuple[Path, ...]:
    """A list of directories separated by ``:`` or ``,``; each must exist."""
    raw = os.environ.get(name, "")
    parts = [p for chunk in raw.split(",") for p in chunk.split(":") if p.strip()]
    if not parts:
        if required:
            raise SettingsError(f"{name} is required (directories separated by ':')")
        return ()
    resolved = []
    for part in parts:
        path = Path(part.strip()).expanduser().resolve()
        if not path.is_dir():
            raise SettingsError(f"{name}: {part!r} is not a directory")
        resolved.append(path)
    return tuple(resolved)


def node_name() -> str:
    return os.environ.get("NODE_NAME") or socket.gethostname()


def nats_url() -> str:
    return text("NATS_URL", "nats://127.0.0.1:4222")


def database_url() -> str:
    return text("DATABASE_URL")
