"""``librarrarian admin``: users and API keys, straight against the gateway's database (DATABASE_URL).

Each user and key has a scope: ``read`` (look), ``control`` (also start, stop, scan, retry and delete jobs)
or ``admin`` (also settings, sources, approvals, users and keys). The same can be done on the Options page.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys

import asyncpg
from librarrarian_runtime import env, migrations

from . import accounts, credentials
from .credentials import SCOPES, Scope


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            raise SystemExit("the passwords differ")
    problem = credentials.password_problem(password)
    if problem:
        raise SystemExit(problem)
    return password


async def run(args: argparse.Namespace) -> int:
    pool = await migrations.connect_and_migrate(
        env.database_url(), "gateway", "librarrarian_gateway.migrations"
    )
    try:
        return await dispatch(pool, args)
    except accounts.Refused as refused:
        print(refused, file=sys.stderr)
        return 1
    finally:
        await pool.close()


async def dispatch(pool: asyncpg.Pool, args: argparse.Namespace) -> int:
    if args.command == "create-user":
        password = read_password(args.password_stdin)
        user = await accounts.add_user(pool, args.name, password, Scope.named(args.scope))
        print(f"created user {user['name']} (scope {user['scope']})")
    elif args.command == "set-password":
        if not await credentials.set_password(pool, args.name, read_password(args.password_stdin)):
            print(f"no user {args.name}", file=sys.stderr)
            return 1
        print(f"password of {args.name} changed; its sessions were ended")
    elif args.command == "set-scope":
        changed = await accounts.set_scope(pool, args.name, Scope.named(args.scope))
        print(f"{changed['name']} now has the {changed['scope']} scope")
    elif args.command == "delete-user":
        await accounts.delete_user(pool, args.name)
        print(f"deleted user {args.name}; its sessions were ended")
    elif args.command == "list-users":
        for row in await accounts.users(pool):
            print(f"{row['name']}\t{row['scope']}\tcreated {row['created_at']:%Y-%m-%d}")
    elif args.command == "create-api-key":
        made = await accounts.add_key(pool, args.name, Scope.named(args.scope))
        print(made.key)
        print(
            f"API key {made.name} (id {made.id}, scope {made.scope.label}). "
            "Keep this key now: it is not shown again.",
            file=sys.stderr,
        )
    elif args.command == "list-api-keys":
        for row in await accounts.keys(pool):
            used = f"last used {row['last_used']:%Y-%m-%d}" if row["last_used"] else "never used"
            print(
                f"{row['id']}\t{row['name']}\t{row['prefix']}…\t{row['scope']}\t"
                f"created {row['created_at']:%Y-%m-%d}\t{used}"
            )
    elif args.command == "revoke-api-key":
        ids = await accounts.key_ids(pool, args.key)
        if not ids:
            print(f"no API key {args.key}", file=sys.stderr)
            return 1
        for key_id in ids:
            await accounts.revoke_key(pool, key_id)
        print(f"revoked {len(ids)} key(s)")
    return 0


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="librarrarian admin", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    create_user = commands.add_parser("create-user", help="add a user")
    create_user.add_argument("--scope", choices=SCOPES, default="admin", help="what the user may do (admin)")
    set_password = commands.add_parser("set-password", help="change a user's password")
    for command in (create_user, set_password):
        command.add_argument("name")
        command.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    set_scope = commands.add_parser("set-scope", help="change what a user may do")
    set_scope.add_argument("name")
    set_scope.add_argument("scope", choices=SCOPES)
    delete_user = commands.add_parser("delete-user", help="delete a user (not the last admin)")
    delete_user.add_argument("name")
    commands.add_parser("list-users", help="list the users and their scopes")
    create = commands.add_parser("create-api-key", help="make a new API key (printed once)")
    create.add_argument("name", help="what the key is for, e.g. sonarr")
    create.add_argument("--scope", choices=SCOPES, default="read", help="what the key may do (read)")
    commands.add_parser("list-api-keys", help="list the API keys (never the keys themselves)")
    revoke = commands.add_parser(
        "revoke-api-key",
        help="revoke a key by its id or prefix, for good (-- before a prefix that starts with -)",
    )
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
