#!/usr/bin/env python3
"""Write deploy/.env for the compose files: deploy/.env.example with the library folder filled in and every
empty password generated, readable by its owner only. It never replaces an existing .env (its passwords are
already in the databases and the NATS server's users).

    python3 deploy/make_env.py --media /srv/media
    python3 deploy/make_env.py --encoder --nats-host media-server.lan --media /mnt/nas/media

With --encoder (an encoder on another machine) no password is made: the encoder logs in with the cluster's
NATS_ENCODER_PASSWORD, copied from the cluster's deploy/.env. Only the standard library: it runs before
anything is installed."""

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
            elif make_passwords and name.endswith("_PASSWORD") and not value:
                value = password()
            line = f"{name}={value}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", required=True, help="the folder that holds the videos")
    parser.add_argument("--encoder", action="store_true", help="for deploy/compose.encoder.yaml only")
    parser.add_argument("--nats-host", help="with --encoder: the cluster's NATS host")
    parser.add_argument("--output", type=Path, default=HERE / ".env", help="where to write (deploy/.env)")
    args = parser.parse_args(argv)
    media = Path(args.media).expanduser().resolve()
    if not media.is_dir():
        parser.error(f"--media {args.media}: no such folder")
    if args.encoder and not args.nats_host:
        parser.error("--encoder needs --nats-host, the cluster's NATS host")
    values = {"MEDIA_DIR": str(media)}
    if args.nats_host:
        values["NATS_HOST"] = args.nats_host
    text = filled((HERE / ".env.example").read_text(), values, make_passwords=not args.encoder)
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
    print(f"wrote {args.output}: log in as admin with its LOCAL_PASSWORD")
    if args.encoder:
        print("now copy NATS_ENCODER_PASSWORD from the cluster's deploy/.env into it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
