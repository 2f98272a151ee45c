"""The provisioning step's settings, read once from the environment: the admin credentials it alone gets."""

from __future__ import annotations

from dataclasses import dataclass, field

from librarrarian_contracts import topology
from librarrarian_contracts.provision import ALLOWED_REPLICAS
from librarrarian_runtime import env
from librarrarian_runtime.database_roles import SCHEMAS, password_variable


@dataclass(frozen=True)
class Settings:
    nats_url: str  # as the provision user
    # A PostgreSQL login that may create roles and schemas; None leaves the database alone (one login for
    # every service, as before roles).
    database_url: str | None = None
    passwords: dict[str, str] = field(default_factory=dict)  # service -> its role's password
    # How long to wait for the servers to accept connections (they may be starting beside this step).
    wait_seconds: float = 60.0
    # How many NATS servers keep each stream and bucket: 1 for one server, 3 (or 5) for a JetStream cluster.
    replicas: int = 1
    # The nodes without the library the cluster names (``REMOTE_NODES``): each gets a transfer store.
    remote_nodes: tuple[str, ...] = ()

    @classmethod
    def from_env(cls) -> Settings:
        database_url = env.optional("DATABASE_URL")
        passwords = {s: env.text(password_variable(s)) for s in SCHEMAS} if database_url else {}
        return cls(
            nats_url=env.nats_url(),
            database_url=database_url,
            passwords=passwords,
            wait_seconds=env.number("PROVISION_WAIT_SECONDS", 60.0, minimum=0.0),
            replicas=replicas(),
            remote_nodes=remote_nodes(),
        )


def remote_nodes() -> tuple[str, ...]:
    try:
        return topology.remote_nodes(env.optional("REMOTE_NODES") or "")
    except topology.NotARemoteNode as error:
        raise env.SettingsError(f"REMOTE_NODES: {error}") from None


def replicas() -> int:
    value = env.integer("NATS_REPLICAS", 1)
    if value not in ALLOWED_REPLICAS:
        raise env.SettingsError(
            f"NATS_REPLICAS must be 1, 3 or 5 (the servers that keep each stream), not {value}"
        )
    return value
