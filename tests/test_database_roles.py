"""Each service's PostgreSQL role, as the provisioning step makes it, on real servers: it migrates and uses
its own schema, and cannot read another's tables, create a schema or leave tables in ``public``; an older
installation's tables are handed to it; on the server ``librarrarian up`` runs, every login needs its password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from librarrarian_provision import database
from librarrarian_runtime import migrations
from librarrarian_runtime.database_roles import SCHEMAS, login_url, role_of

from librarrarian import local_servers, secrets_file

PASSWORDS = {service: f"secret-{service}" for service in SCHEMAS}


def as_role(url: str, service: str, passwords: dict[str, str] = PASSWORDS) -> str:
    return login_url(url, role_of(service), passwords[service])


async def migrate_all(url: str, passwords: dict[str, str] = PASSWORDS) -> None:
    """Each service's migrations, as each service applies them at start: logged in as its role."""
    for service in SCHEMAS:
        pool = await migrations.connect_and_migrate(
            as_role(url, service, passwords), service, f"librarrarian_{service}.migrations"
        )
        await pool.close()


@pytest.fixture
async def provisioned(database_url: str) -> AsyncIterator[str]:
    await database.provision(database_url, PASSWORDS)
    await migrate_all(database_url)
    yield database_url
    # The roles belong to the whole server: gone with the test, so the next provisions them afresh.
    admin = await asyncpg.connect(database_url)
    try:
        for service in SCHEMAS:
            await admin.execute(f"DROP SCHEMA IF EXISTS {service} CASCADE")
            await admin.execute(f"DROP ROLE IF EXISTS {role_of(service)}")
    finally:
        await admin.close()


async def test_a_role_reaches_its_own_schema_only(provisioned: str) -> None:
    scheduler = await asyncpg.connect(as_role(provisioned, "scheduler"))
    try:
        assert await scheduler.fetchval("SELECT count(*) FROM scheduler.jobs") == 0
        for statement in (
            "SELECT * FROM gateway.api_keys",
            "SELECT * FROM gateway.users",
            "SELECT * FROM scanner.sources",
            "INSERT INTO history.transcodes DEFAULT VALUES",
            "CREATE SCHEMA spy",
            "CREATE TABLE public.leak (secret text)",
            "CREATE TABLE gateway.leak (secret text)",
            "ALTER ROLE librarrarian_scheduler SUPERUSER",
            "SET ROLE librarrarian_gateway",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await scheduler.execute(statement)
    finally:
        await scheduler.close()
    gateway = await asyncpg.connect(as_role(provisioned, "gateway"))
    try:
        assert await gateway.fetchval("SELECT count(*) FROM gateway.api_keys") == 0
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await gateway.fetch("SELECT * FROM scheduler.outbox")
    finally:
        await gateway.close()


async def test_provisioning_again_changes_passwords_and_keeps_the_data(provisioned: str) -> None:
    history = await asyncpg.connect(as_role(provisioned, "history"))
    try:
        await history.execute("CREATE TABLE history.kept (x int)")
        await history.execute("INSERT INTO history.kept VALUES (1)")
    finally:
        await history.close()
    changed = {**PASSWORDS, "history": "another"}
    await database.provision(provisioned, changed)
    await migrate_all(provisioned, changed)
    history = await asyncpg.connect(as_role(provisioned, "history", changed))
    try:
        assert await history.fetchval("SELECT x FROM history.kept") == 1
    finally:
        await history.close()


async def test_an_older_installations_tables_are_handed_to_each_service(database_url: str) -> None:
    """Before roles, one login created every schema: provisioning hands each schema's objects (tables,
    sequences, functions) to its service, which then migrates and uses them."""
    admin = await asyncpg.connect(database_url)
    try:
        for service in SCHEMAS:
            await migrations.migrate(admin, service, f"librarrarian_{service}.migrations")
        await admin.execute("INSERT INTO scheduler.inbox (event_id) VALUES ('before roles')")
    finally:
        await admin.close()
    await database.provision(database_url, PASSWORDS)
    await migrate_all(database_url)
    scheduler = await asyncpg.connect(as_role(database_url, "scheduler"))
    try:
        assert await scheduler.fetchval("SELECT event_id FROM scheduler.inbox") == "before roles"
        # Its trigger function and serial sequence are its own too: a job row can be written.
        await scheduler.execute("INSERT INTO scheduler.jobs (path, status) VALUES ('/m/a.mp4', 'pending')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await scheduler.fetch("SELECT * FROM gateway.api_keys")
    finally:
        await scheduler.close()
    admin = await asyncpg.connect(database_url)
    try:
        for service in SCHEMAS:
            await admin.execute(f"DROP SCHEMA {service} CASCADE")
            await admin.execute(f"DROP ROLE {role_of(service)}")
    finally:
        await admin.close()


async def test_the_embedded_server_asks_every_login_for_its_password(tmp_path: Path) -> None:
    """The server ``up`` starts, provisioned as ``up`` does: a wrong password is refused, also for the
    superuser, and the scheduler's role cannot read the gateway's API keys."""
    creds = secrets_file.load_or_create(tmp_path)
    passwords = {s: creds[secrets_file.postgres_key(s)] for s in SCHEMAS}
    postgres = await local_servers.start_postgres(tmp_path / "postgres", creds)
    try:
        await database.provision(postgres.admin_url, passwords)
        await migrate_all(postgres.admin_url, passwords)
        scheduler = await asyncpg.connect(postgres.urls["scheduler"])
        try:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await scheduler.fetch("SELECT * FROM gateway.api_keys")
        finally:
            await scheduler.close()
        for user in (role_of("gateway"), local_servers.SUPERUSER):
            with pytest.raises(asyncpg.InvalidPasswordError):
                await asyncpg.connect(login_url(postgres.admin_url, user, "wrong"))
    finally:
        postgres.server.stop()
