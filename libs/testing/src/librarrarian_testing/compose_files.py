"""The compose files as Compose reads them: a ``.env`` file's settings, and the files with their variables
interpolated by the Compose Specification's rules (``$$``, ``$VAR``, ``${VAR}``, ``${VAR:-default}``,
``${VAR-default}``, ``${VAR:?error}``, ``${VAR?error}``, ``${VAR:+other}``, ``${VAR+other}``), so that what
is checked against the specification's schema is what a user's `docker compose` would run."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import yaml

SETTING = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
# `$$`, or `$NAME`, or `${NAME}` with an optional operator and its word (which may hold ${...} itself).
REFERENCE = re.compile(
    r"\$(?:(?P<escaped>\$)|(?P<plain>[A-Za-z_][A-Za-z0-9_]*)"
    r"|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<word>(?:[^{}]|\{[^{}]*\})*))?\})"
)


class MissingVariable(ValueError):
    """A ``${VAR:?message}`` whose variable is unset or empty: Compose stops with the message."""


def env_file(path: Path) -> dict[str, str]:
    """The settings of a ``.env`` file (comments and blank lines skipped; values taken as written)."""
    values = {}
    for line in path.read_text().splitlines():
        match = SETTING.match(line.strip())
        if match:
            values[match["name"]] = match["value"]
    return values


def names(text: str) -> set[str]:
    """Every variable a compose file refers to (also those inside another's default)."""
    found = set()
    for match in REFERENCE.finditer(text):
        name = match["plain"] or match["name"]
        if name:
            found.add(name)
        if match["word"]:
            found |= names(match["word"])
    return found


def interpolate(text: str, values: Mapping[str, str]) -> str:
    def one(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["plain"]:
            return values.get(match["plain"], "")
        name, op, word = match["name"], match["op"], match["word"] or ""
        value = values.get(name)
        unset_or_empty = not value if op and op.startswith(":") else value is None
        if op in (":-", "-"):
            return interpolate(word, values) if unset_or_empty else str(value)
        if op in (":?", "?"):
            if unset_or_empty:
                raise MissingVariable(f"{name}: {interpolate(word, values) or 'required'}")
            return str(value)
        if op in (":+", "+"):
            return "" if unset_or_empty else interpolate(word, values)
        return value or ""

    return REFERENCE.sub(one, text)


def load(path: Path, values: Mapping[str, str]) -> dict[str, object]:
    """The compose file with its variables interpolated. YAML first, then each string value, as Compose
    does: a value may not break the file's structure."""

    def each(node: object) -> object:
        if isinstance(node, str):
            return interpolate(node, values)
        if isinstance(node, dict):
            return {key: each(value) for key, value in node.items()}
        if isinstance(node, list):
            return [each(value) for value in node]
        return node

    loaded = yaml.safe_load(path.read_text())
    result = each(loaded)
    assert isinstance(result, dict)
    return result
