"""A real OpenID provider for a test: ``oidc-provider`` (certified, from the npm registry) run by Node.js from
``libs/testing/oidc_provider`` (``make oidc-provider`` installs it; ``make test`` does so first).

Its accounts: alice (groups librarrarian-admins and family) and bob (family), passwords ``<name>-password``;
the groups come with the ``groups`` scope, from the userinfo endpoint."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

FOLDER = Path(__file__).resolve().parents[2] / "oidc_provider"
CLIENT_ID, CLIENT_SECRET = "librarrarian", "test-client-secret-0123456789"
ACCOUNTS = {"alice": "alice-password", "bob": "bob-password"}
READY_WITHIN = 30.0  # seconds for Node.js to load the provider and listen


@dataclass(frozen=True)
class OpenIdProvider:
    issuer: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET


@contextlib.asynccontextmanager
async def running_provider(
    redirect_uris: Sequence[str], log: Path, port: int = 0
) -> AsyncIterator[OpenIdProvider]:
    """The provider, for the block's length, with one client allowed to come back to ``redirect_uris``;
    what it prints goes to ``log``."""
    node = shutil.which("node")
    if node is None or not (FOLDER / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            f"the test OpenID provider is not installed: run `make oidc-provider` (npm ci in {FOLDER})",
            pytrace=False,
        )
    with log.open("wb") as errors:
        process = await asyncio.create_subprocess_exec(
            node,
            "server.mjs",
            str(port),
            cwd=FOLDER,
            env={
                "PATH": "/usr/bin:/bin",
                "CLIENT_ID": CLIENT_ID,
                "CLIENT_SECRET": CLIENT_SECRET,
                "REDIRECT_URIS": ",".join(redirect_uris),
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=errors,
        )
    try:
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_WITHIN)
        except TimeoutError:
            line = b""
        if not line.startswith(b"ready "):
            printed = await asyncio.to_thread(log.read_text)
            pytest.fail(f"the test OpenID provider did not start: {printed[-2000:]}", pytrace=False)
        yield OpenIdProvider(issuer=line.split()[1].decode())
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
