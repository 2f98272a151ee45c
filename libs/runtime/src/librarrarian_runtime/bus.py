"""Connecting to NATS the same way in every service: replies in the user's own inbox, TLS when the URL says
``tls://`` (trusting ``NATS_CA_FILE`` when set), reconnects forever.

``NATS_URL`` may list the servers of a JetStream cluster, separated by commas
(``nats://encoder:PASSWORD@nats-1:4222,nats://nats-2:4222,nats://nats-3:4222``): the client connects to one
and moves to another when it goes away. The user and password may be written in the first URL only; they are
used for every server, including those the cluster announces by itself."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

import nats
from librarrarian_contracts.permissions import inbox_prefix
from nats.aio.client import DEFAULT_INBOX_PREFIX, Client

from . import env, health

log = logging.getLogger(__name__)

CA_FILE = "NATS_CA_FILE"


def user_of(url: str) -> str | None:
    """The user a NATS URL logs in as (of its first server, when it lists several)."""
    return urlsplit(servers_of(url)[0]).username


def servers_of(url: str) -> list[str]:
    """The servers a ``NATS_URL`` lists, separated by commas."""
    servers = [part.strip() for part in url.split(",") if part.strip()]
    if not servers:
        raise env.SettingsError("NATS_URL names no server")
    return servers


@dataclass(frozen=True)
class Login:
    """The servers without credentials, and the one user and password they are all logged in to with."""

    servers: list[str]
    user: str | None
    password: str | None


def login_of(url: str) -> Login:
    """The servers of ``url`` and its credentials. The credentials are passed on their own rather than left
    in the URLs: the client would log in to a server the cluster announces (one not in the list) with none.
    Servers that name different users are refused: a service has one role."""
    servers, logins = [], set()
    for server in servers_of(url):
        parts = urlsplit(server if "://" in server else f"nats://{server}")
        if parts.username is not None:
            logins.add((unquote(parts.username), unquote(parts.password or "")))
        netloc = parts.netloc.rpartition("@")[2]
        servers.append(urlunsplit(parts._replace(netloc=netloc)))
    if len(logins) > 1:
        raise env.SettingsError("NATS_URL: every server must be given the same user and password")
    user, password = logins.pop() if logins else (None, None)
    return Login(servers, user, password or None)


def inbox_of(url: str) -> str:
    """Where this connection's replies arrive: the user's own inbox, the only one its permissions let it
    read (``_INBOX_<user>``); the plain ``_INBOX`` without a user."""
    user = user_of(url)
    return inbox_prefix(user) if user else DEFAULT_INBOX_PREFIX.decode()


def tls_context(ca_file: Path | None) -> ssl.SSLContext | None:
    """A context trusting ``ca_file`` (a private CA that signed the server's certificate); None leaves a
    ``tls://`` URL to the system's CAs."""
    if ca_file is None:
        return None
    if not ca_file.is_file():
        raise env.SettingsError(f"{CA_FILE}: {ca_file} is not a file")
    return ssl.create_default_context(cafile=str(ca_file))


async def connect(url: str, name: str, *, ca_file: Path | None = None) -> Client:
    """Connect with reconnects forever: a restarting NATS server must not kill the services. The CA file
    comes from ``NATS_CA_FILE`` unless given: like ``NATS_URL``, it is the deployment's, the same for all."""

    async def on_disconnect() -> None:
        log.warning("disconnected from NATS")

    async def on_reconnect() -> None:
        log.info("reconnected to NATS")

    async def on_error(error: Exception) -> None:
        log.warning("NATS error: %s", error)

    if ca_file is None and (configured := env.optional(CA_FILE)):
        ca_file = Path(configured)
    login = login_of(url)
    credentials: dict[str, str] = {}
    if login.user is not None and login.password is None:
        credentials["token"] = login.user  # a URL's lone user name is a token to NATS
    elif login.user is not None and login.password is not None:
        credentials = {"user": login.user, "password": login.password}
    return await nats.connect(
        login.servers,
        **credentials,
        name=name,
        inbox_prefix=inbox_of(url),
        tls=tls_context(ca_file),
        max_reconnect_attempts=-1,
        reconnect_time_wait=1,
        connect_timeout=5,
        allow_reconnect=True,
        disconnected_cb=on_disconnect,
        reconnected_cb=on_reconnect,
        error_cb=on_error,
    )


class Stopped(Exception):
    """A stop was asked for before NATS answered: the service ends without having started."""


async def connect_unless_stopped(url: str, name: str, stopping: asyncio.Event | None) -> Client:
    """``connect``, given up when ``stopping`` is set first: a connect waits for the server for ever (it may
    start later), and a service asked to stop meanwhile must not wait with it."""
    if stopping is None:
        return await connect(url, name)
    connecting = asyncio.ensure_future(connect(url, name))
    stop = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait({connecting, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
    if connecting.done():
        return connecting.result()
    connecting.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await connecting
    raise Stopped(f"{name}: stopped before NATS answered")


@contextlib.asynccontextmanager
async def connection(url: str, name: str, stopping: asyncio.Event | None = None) -> AsyncIterator[Client]:
    """A connection for a service's whole life, drained when it ends: after a stop, and after a failed
    start too, so nothing the service published is lost and the server forgets it at once. In a container
    the connection's life is the service's heartbeat (``health``). With ``stopping``, a stop before the
    server answers raises ``Stopped``."""
    nc = await connect_unless_stopped(url, name, stopping)
    try:
        async with health.heartbeat(nc):
            yield nc
    finally:
        if not nc.is_closed:
            try:
                await nc.drain()
            except Exception as error:  # noqa: BLE001 - closing is best effort; the process ends anyway
                log.warning("draining the NATS connection failed: %r", error)


def redact(url: str) -> str:
    """A URL fit for a log line: credentials replaced."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"
