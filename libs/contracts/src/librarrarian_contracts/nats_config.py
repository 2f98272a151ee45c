"""The NATS server's configuration, made from :mod:`permissions`: ``deploy/nats.conf`` (passwords from the
environment; ``make schema`` writes it, a test holds it to this) and the embedded server's (passwords that
``librarrarian up`` generated)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from .permissions import Permissions, users

# The repository's deploy folder (this module lies in libs/contracts/src/librarrarian_contracts).
DEPLOY_CONFIG = Path(__file__).resolve().parents[4] / "deploy" / "nats.conf"

DEPLOY_HEADER = """\
# NATS for a Librarrarian cluster: JetStream on, one user per role (passwords from the environment).
# Made from libs/contracts/src/librarrarian_contracts/permissions.py by `make schema`; do not edit by hand.
#
# Each user may publish and subscribe only what its role needs (docs/bus.md, "Permissions"): an encoder
# reports its own jobs and progress, but cannot make work, release jobs, read or change settings it does not
# need, or read another role's replies. Only the provision user may create or change streams and consumers;
# nobody may delete or purge one. deploy/nats-tls.conf adds TLS for nodes on other machines.
"""


REMOTE_HEADER = """\
#
# Nodes without the library: {nodes}. Each logs in as remote-<name> (its password from
# $NATS_REMOTE_<NAME>_PASSWORD) and reaches its own transfer store only.
"""


def env_password(user: str) -> str:
    """A password taken from the server's environment: ``$NATS_<USER>_PASSWORD`` (``remote-laptop``:
    ``$NATS_REMOTE_LAPTOP_PASSWORD``)."""
    return f"$NATS_{user.upper().replace('-', '_')}_PASSWORD"


def literal(value: str) -> str:
    """A quoted config string (JSON strings are valid NATS config strings and quote paths safely)."""
    return json.dumps(value)


def _list(items: Iterable[str], indent: str) -> str:
    inner = f",\n{indent}  ".join(literal(i) for i in items)
    return f"[\n{indent}  {inner}\n{indent}]"


def user_entry(user: str, password: str, permissions: Permissions) -> str:
    """One entry of ``authorization.users``; ``password`` is config text (:func:`literal`, :func:`env_password`)."""
    pad = " " * 10
    publish = (
        f"publish: {{ allow: {_list(permissions.publish, pad)} }}"
        if permissions.publish
        else 'publish: { deny: [">"] }'
    )
    lines = [
        f"    {{ user: {user}, password: {password},",
        "      permissions: {",
        f"        {publish},",
        f"        subscribe: {{ allow: {_list(permissions.subscribe, pad)} }}"
        + (",\n        allow_responses: true" if permissions.responses else ""),
        "      } }",
    ]
    return "\n".join(lines)


def authorization(password_of: Callable[[str], str], remote_nodes: Sequence[str] = ()) -> str:
    """The ``authorization`` block with every user of :func:`permissions.users`."""
    found = users(remote_nodes).items()
    entries = "\n".join(user_entry(user, password_of(user), p) for user, p in found)
    return f"authorization {{\n  users: [\n{entries}\n  ]\n}}\n"


def render(
    *,
    listen: str,
    monitor: str | None,
    store_dir: str,
    password_of: Callable[[str], str],
    header: str = "",
    remote_nodes: Sequence[str] = (),
) -> str:
    """A whole configuration. ``monitor`` is the monitoring address (loopback: it shows every connection)."""
    parts = [header, f"listen: {listen}\n"]
    if monitor:
        parts.append(f"http: {monitor}\n")
    parts.append(f"jetstream {{\n  store_dir: {store_dir}\n}}\n")
    parts.append(authorization(password_of, remote_nodes))
    return "".join(parts)


def deploy(remote_nodes: Sequence[str] = ()) -> str:
    """``deploy/nats.conf``: every interface for clients, monitoring on the container's loopback only. With
    ``remote_nodes`` (``librarrarian nats-config``), a user and a transfer store's permissions for each."""
    header = DEPLOY_HEADER
    if remote_nodes:
        header = header.replace("by `make schema`", "by `librarrarian nats-config`") + REMOTE_HEADER.format(
            nodes=", ".join(remote_nodes)
        )
    return render(
        listen="0.0.0.0:4222",
        monitor="127.0.0.1:8222",
        store_dir="/data",
        password_of=env_password,
        header=header,
        remote_nodes=remote_nodes,
    )
