"""The ``librarrarian`` command: ``up`` (everything on one machine), one command per service, ``provision``
(the step before the services), ``admin``."""

from __future__ import annotations

import argparse
import asyncio
import os
import runpy
import subprocess
import sys
from pathlib import Path

SERVICES = ("scanner", "scheduler", "encoder", "history", "gateway", "cleanup", "arr")
# Run like a service (configured by environment), once, before the services start.
STEPS = {"provision": "apply the bus topology and each service's database role (as the provision user)"}


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(os.environ.get("LIBRARRARIAN_DATA", Path(base) / "librarrarian"))


def media_from_env() -> list[Path]:
    raw = os.environ.get("MEDIA_PATHS", "")
    return [Path(p) for p in raw.replace(",", ":").split(":") if p.strip()]


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="librarrarian", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    up = commands.add_parser("up", help="run the whole cluster on this machine")
    up.add_argument(
        "--media",
        action="append",
        type=Path,
        metavar="DIR",
        help="a media folder (repeat for several; default: MEDIA_PATHS)",
    )
    up.add_argument(
        "--data-dir",
        type=Path,
        default=default_data_dir(),
        metavar="DIR",
        help="where the databases and credentials live (default: %(default)s)",
    )
    up.add_argument("--port", type=int, default=5000, help="dashboard port (default: %(default)s)")
    up.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the dashboard listens on; 0.0.0.0 for the whole network (default: %(default)s)",
    )

    for name in SERVICES:
        commands.add_parser(name, help=f"run the {name} service (configured by environment)")
    for name, what in STEPS.items():
        commands.add_parser(name, help=f"{what} (configured by environment)")

    backup = commands.add_parser("backup", help="make a backup now (README, Backups)")
    backup.add_argument("--data-dir", type=Path, default=default_data_dir(), metavar="DIR")
    backup.add_argument(
        "--to", type=Path, metavar="DIR", help="the folder (default: BACKUP_DIR, else DIR/backups)"
    )
    backup.add_argument(
        "--daily",
        action="store_true",
        help="keep running: a backup every day at BACKUP_HOUR, the newest BACKUP_KEEP kept (a cluster's "
        "backup service; DATABASE_URL and NATS_URL as for a backup)",
    )
    restore = commands.add_parser("restore", help="restore a backup file (the services stopped)")
    restore.add_argument("file", type=Path, metavar="FILE")
    restore.add_argument("--data-dir", type=Path, default=default_data_dir(), metavar="DIR")

    nats = commands.add_parser(
        "nats-config",
        help="print deploy/nats.conf with a user for each node without the library (README, Nodes without "
        "the library)",
    )
    nats.add_argument(
        "--remote",
        action="append",
        default=[],
        metavar="NAME",
        help="a node without the library (its NODE_NAME; repeat for several)",
    )

    admin = commands.add_parser(
        "admin", help="users and API keys (run with --help for the list)", add_help=False
    )
    admin.add_argument("--data-dir", type=Path, default=default_data_dir(), metavar="DIR")
    admin.add_argument("rest", nargs=argparse.REMAINDER)
    return top


def run_admin(data_dir: Path, rest: list[str]) -> int:
    """Forward to the gateway's admin commands, against DATABASE_URL or the embedded database (as the
    gateway's role: its tables are the users and API keys)."""
    env = dict(os.environ)
    postgres = None
    if "DATABASE_URL" not in env:
        import json

        from librarrarian_embedded import PostgresServer
        from librarrarian_runtime.database_roles import login_url, role_of

        from .local_servers import DATABASE
        from .secrets_file import FILE_NAME, postgres_key

        credentials = data_dir / FILE_NAME
        password = (
            json.loads(credentials.read_text()).get(postgres_key("gateway")) if credentials.exists() else None
        )
        if not (data_dir / "postgres").is_dir() or password is None:
            print(
                f"no database with its roles in {data_dir}: run `librarrarian up` first or set DATABASE_URL",
                file=sys.stderr,
            )
            return 2
        postgres = PostgresServer(data_dir / "postgres")
        postgres.start()
        env["DATABASE_URL"] = login_url(postgres.uri(DATABASE), role_of("gateway"), password)
    try:
        argv = [sys.executable, "-m", "librarrarian_gateway.admin", *rest]
        return subprocess.run(argv, env=env, check=False).returncode
    finally:
        if postgres is not None:
            postgres.stop()


def print_nats_config(remote: list[str]) -> int:
    """``deploy/nats.conf`` for a cluster whose nodes without the library are ``remote``, on stdout."""
    from librarrarian_contracts import nats_config, topology

    try:
        nodes = topology.remote_nodes(",".join(remote))
    except topology.NotARemoteNode as error:
        print(f"librarrarian nats-config: {error}", file=sys.stderr)
        return 2
    sys.stdout.write(nats_config.deploy(nodes))
    return 0


def run_backup_command(args: argparse.Namespace) -> int:
    from librarrarian_runtime import logs

    from .backups import command

    logs.configure("backup")
    data_dir = args.data_dir.expanduser().resolve()
    try:
        if args.command == "backup":
            to = args.to.expanduser().resolve() if args.to else None
            if args.daily:
                asyncio.run(command.daily(data_dir, to))
            else:
                print(asyncio.run(command.backup(data_dir, to)))
        else:
            print(asyncio.run(command.restore(data_dir, args.file.expanduser().resolve())))
    except (command.CommandError, ValueError) as error:
        print(f"librarrarian {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    if args.command == "up":
        from librarrarian_runtime import logs

        from .up import Options, UpError, run

        logs.configure("up")
        from librarrarian_contracts import topology

        media = args.media or media_from_env()
        try:
            remote_nodes = topology.remote_nodes(os.environ.get("REMOTE_NODES", ""))
        except topology.NotARemoteNode as error:
            print(f"librarrarian up: REMOTE_NODES: {error}", file=sys.stderr)
            sys.exit(2)
        options = Options(
            media=tuple(p.expanduser().resolve() for p in media),
            data_dir=args.data_dir.expanduser().resolve(),
            port=args.port,
            host=args.host,
            remote_nodes=remote_nodes,
        )
        try:
            asyncio.run(run(options))
        except UpError as error:
            print(f"librarrarian up: {error}", file=sys.stderr)
            sys.exit(2)
    elif args.command in {"backup", "restore"}:
        sys.exit(run_backup_command(args))
    elif args.command == "admin":
        sys.exit(run_admin(args.data_dir, args.rest))
    elif args.command == "nats-config":
        sys.exit(print_nats_config(args.remote))
    else:
        sys.argv = [f"librarrarian {args.command}"]
        runpy.run_module(f"librarrarian_{args.command}", run_name="__main__", alter_sys=True)
