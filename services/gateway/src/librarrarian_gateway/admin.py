"""``librarrarian admin``: users and API keys, straight against the gateway's database (DATABASE_URL)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

import asyncpg
from librarrarian_runtime import env, migrations

from . import credentials


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("the passwords differ")
    if len(password) < 8:
        raise SystemExit("a password needs at least 8 characters")
    return password


async def run(args: argparse.Namespace) -> int:
    pool = await migrations.connect_and_migrate(
        env.database_url(), "gateway", "librarrarian_gateway.migrations"
    )
    try:
        return await dispatch(pool, args)
    finally:
        await pool.close()


async def dispatch(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    if args.command == "create-user":
        if not await credentials.create_user(pool, args.name, read_password(args.password_stdin)):
            print(f"user {args.name} exists already (use set-password)", file=sys.stderr)
            return 1
        print(f"created user {args.name}")
    elif args.command == "set-password":
        if not await credentials.set_password(pool, args.name, read_password(args.password_stdin)):
            print(f"no user {args.name}", file=sys.stderr)
            return 1
        print(f"password of {args.name} changed; its sessions were ended")
    elif args.command == "list-users":
        for row in await pool.fetch("SELECT name, created_at FROM users ORDER BY name"):
            print(f"{row['name']}\tcreated {row['created_at']:%Y-%m-%d}")
    elif args.command == "create-api-key":
        key = await credentials.create_api_key(pool, args.name)
        print(key)
        print("Keep this key now: it is not shown again.", file=sys.stderr)
    elif args.command == "list-api-keys":
        for row in await pool.fetch(
            "SELECT id, name, prefix, created_at, last_used FROM api_keys ORDER BY id"
        ):
            used = f"last used {row['last_used']:%Y-%m-%d}" if row["last_used"] else "never used"
            print(
                f"{row['id']}\t{row['name']}\t{row['prefix']}…\tcreated {row['created_at']:%Y-%m-%d}\t{used}"
            )
    elif args.command == "revoke-api-key":
        result = await pool.execute("DELETE FROM api_keys WHERE id::text = $1 OR prefix = $1", args.key)
        if result == "DELETE 0":
            print(f"no API key {args.key}", file=sys.stderr)
            return 1
        print(f"revoked {result.split()[1]} key(s)")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="librarrarian admin", description=__doc__)
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, text in (("create-user", "add a user"), ("set-password", "change a user's password")):
        command = commands.add_parser(name, help=text)
        command.add_argument("name")
        command.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    commands.add_parser("list-users", help="list the users")
    create = commands.add_parser("create-api-key", help="make a new API key (printed once)")
    create.add_argument("name", help="what the key is for, e.g. sonarr")
    commands.add_parser("list-api-keys", help="list the API keys (never the keys themselves)")
    revoke = commands.add_parser("revoke-api-key", help="revoke a key by its id or prefix")
    revoke.add_argument("key", metavar="ID_OR_PREFIX")
    return top


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        sys.exit(asyncio.run(run(args)))
    except env.SettingsError as error:
        raise SystemExit(f"librarrarian admin: {error}") from None


if __name__ == "__main__":
    main()
