#!/usr/bin/env python3
"""Write deploy/.env for the compose files: deploy/.env.example with the library folder filled in and every
empty password generated, readable by its owner only. It never replaces an existing .env (its passwords are
already in the databases and the NATS server's users).

    python3 deploy/make_env.py --media /srv/media
    python3 deploy/make_env.py --encoder --nats-host media-server.lan --media /mnt/nas/media
    python3 deploy/make_env.py --remote laptop
    python3 deploy/make_env.py --remote-node laptop --nats-host media-server.lan

With --encoder (an encoder on another machine) no password is made: the encoder logs in with the cluster's
NATS_ENCODER_PASSWORD, copied from the cluster's deploy/.env. --remote (on the cluster's machine) adds a node
without the library to an existing .env: a password of its own in deploy/remote-nodes.env, its name in
REMOTE_NODES. --remote-node (on that node) writes the .env of deploy/compose.remote.yaml, its password to be
copied from the cluster's deploy/remote-nodes.env. Only the standard library: it runs before anything is
installed."""

from __future__ import annotations

import argparse
import os
import re
import secrets
import string
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SETTING = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
# A node without the library: as libs/contracts' topology.REMOTE_NODE (this file runs before it is
# installed; a test holds the two to the same rule).
REMOTE_NODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
REMOTE_RULE = "use 1 to 32 lower-case letters, digits, '-' and '_', a letter or digit first"
# Beside .env: the NATS container reads the nodes' passwords from it (and nothing else of .env).
REMOTE_ENV = "remote-nodes.env"
# Never generated: a node without the library copies its password from the cluster's REMOTE_ENV.
COPIED = {"NATS_REMOTE_PASSWORD"}


def password() -> str:
    """URL-safe (it goes into NATS and PostgreSQL URLs as is), and a letter first: NATS reads a variable's
    value as configuration, and one starting with digits and a dash ("95-x8...") is taken for a date."""
    return secrets.choice(string.ascii_letters) + secrets.token_urlsafe(24)


def filled(example: str, values: dict[str, str], make_passwords: bool) -> str:
    """The example's lines, each setting named in ``values`` set to it, each empty password generated."""
    lines = []
    for line in example.splitlines():
        match = SETTING.match(line)
        if match:
            name, value = match["name"], match["value"]
            if name in values:
                value = values[name]
            elif make_passwords and name.endswith("_PASSWORD") and name not in COPIED and not value:
                value = password()
            line = f"{name}={value}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", help="the folder that holds the videos (not with --remote-node)")
    parser.add_argument("--encoder", action="store_true", help="for deploy/compose.encoder.yaml only")
    parser.add_argument("--nats-host", help="with --encoder or --remote-node: the cluster's NATS host")
    parser.add_argument(
        "--remote", metavar="NAME", help="on the cluster's machine: add a node without the library"
    )
    parser.add_argument(
        "--remote-node", metavar="NAME", help="on a node without the library: for deploy/compose.remote.yaml"
    )
    parser.add_argument("--output", type=Path, default=HERE / ".env", help="where to write (deploy/.env)")
    args = parser.parse_args(argv)
    for name in (args.remote, args.remote_node):
        if name is not None and not REMOTE_NODE.fullmatch(name):
            parser.error(f"{name!r} cannot name a node without the library: {REMOTE_RULE}")
    if args.remote:
        return add_remote(args.output, args.remote)
    values: dict[str, str] = {}
    if args.remote_node:
        if not args.nats_host:
            parser.error("--remote-node needs --nats-host, the cluster's NATS host")
        values["NODE_NAME"] = args.remote_node
    else:
        if not args.media:
            parser.error("--media is required: the folder that holds the videos")
        media = Path(args.media).expanduser().resolve()
        if not media.is_dir():
            parser.error(f"--media {args.media}: no such folder")
        values["MEDIA_DIR"] = str(media)
        if args.encoder and not args.nats_host:
            parser.error("--encoder needs --nats-host, the cluster's NATS host")
    if args.nats_host:
        values["NATS_HOST"] = args.nats_host
    elsewhere = args.encoder or bool(args.remote_node)
    text = filled((HERE / ".env.example").read_text(), values, make_passwords=not elsewhere)
    try:
        # Created, never replaced, and private from the first byte (the passwords are in it).
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        print(f"{args.output} exists already: it is kept (delete it first to start over)", file=sys.stderr)
        return 1
    with os.fdopen(fd, "w") as out:
        out.write(text)
    # The NATS certificates' folder is mounted by every service; empty until TLS is set up.
    (args.output.parent / "certs").mkdir(exist_ok=True)
    if args.remote_node:
        variable = remote_password_variable(args.remote_node)
        print(f"wrote {args.output}: now copy {variable} from the cluster's deploy/{REMOTE_ENV}")
        print("into its NATS_REMOTE_PASSWORD")
        return 0
    print(f"wrote {args.output}: log in as admin with its LOCAL_PASSWORD")
    if args.encoder:
        print("now copy NATS_ENCODER_PASSWORD from the cluster's deploy/.env into it")
    return 0


def remote_password_variable(name: str) -> str:
    """As ``librarrarian nats-config`` names it in deploy/nats.conf."""
    return f"NATS_REMOTE_{name.upper().replace('-', '_')}_PASSWORD"


def add_remote(env_path: Path, name: str) -> int:
    """A node without the library for the cluster whose settings are ``env_path``: its password appended to
    deploy/remote-nodes.env (the NATS container's only extra variables; private), its name to REMOTE_NODES."""
    if not env_path.is_file():
        print(f"{env_path} does not exist: run make_env.py --media DIR first", file=sys.stderr)
        return 1
    lines = env_path.read_text().splitlines()
    found = [m for m in (SETTING.match(line) for line in lines) if m and m["name"] == "REMOTE_NODES"]
    nodes = [n for n in re.split(r"[,\s]+", found[0]["value"]) if n] if found else []
    if name in nodes:
        print(f"{name} is in REMOTE_NODES already: nothing changed", file=sys.stderr)
        return 1
    nodes.append(name)
    passwords = env_path.parent / REMOTE_ENV
    fd = os.open(passwords, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(f"{remote_password_variable(name)}={password()}\n")
    setting = f"REMOTE_NODES={','.join(nodes)}"
    if found:
        lines = [
            setting if (m := SETTING.match(line)) and m["name"] == "REMOTE_NODES" else line for line in lines
        ]
    else:
        lines.append(setting)
    tmp = env_path.with_name(env_path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write("\n".join(lines) + "\n")
    os.replace(tmp, env_path)
    remotes = " ".join(f"--remote {n}" for n in nodes)
    print(f"{name}: its password is {remote_password_variable(name)} in {passwords}; {setting} in {env_path}")
    print(f"now: uv run librarrarian nats-config {remotes} > deploy/nats.conf")
    print("then: docker compose -f deploy/compose.yaml up -d (NATS restarts with the new user)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
