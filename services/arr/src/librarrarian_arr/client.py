"""One Arr app through its HTTP API (httpx, through ``outbound.client``: every request's address checked, no
redirect followed). The API key travels in the ``X-Api-Key`` header the documents declare, never in a URL.

Failures are :class:`ArrError` with a ``problem`` a page can word and a message that names the app, its URL
(without credentials) and why, never the key nor the app's answer:

    ArrError            the app answered, but not as asked (401, 404, not an Arr app, another status)
    └── ArrUnreachable  no answer: timeout, TLS error, refused address, connection failed; worth trying later
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from librarrarian_contracts.arr import Problem
from librarrarian_runtime.bus import redact
from librarrarian_runtime.errors import UpstreamFailed
from librarrarian_runtime.outbound import RefusedAddress

from .apps import AppApi

# Answers read at most: a list of a big library's series or movies fits; a hostile server's endless body not.
MAX_BODY_BYTES = 64 * 1024 * 1024
# Pauses between two looks at a running command: short at first (a rename takes a moment), then longer.
FIRST_POLL_SECONDS = 0.2
LONGEST_POLL_SECONDS = 5.0
FINISHED = {"completed", "failed", "aborted", "cancelled", "orphaned"}


class ArrError(UpstreamFailed):
    def __init__(self, problem: Problem, message: str) -> None:
        super().__init__(message)
        self.problem: Problem = problem


class ArrUnreachable(ArrError):
    """The app could not be reached (it may be down): try again later."""


def _tls_failure(error: BaseException) -> bool:
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError) or "CERTIFICATE" in str(seen).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ArrClient:
    def __init__(self, http: httpx.AsyncClient, api: AppApi, url: str, api_key: str) -> None:
        self.http = http
        self.api = api
        self.url = url.rstrip("/")
        self.shown = f"{api.name} at {redact(self.url)}"
        self._api_key = api_key

    async def call(
        self, method: str, tail: str, *, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        path = self.api.path(tail)
        try:
            response = await self.http.request(
                method,
                f"{self.url}{path}",
                params=params,
                json=body,
                headers={"X-Api-Key": self._api_key, "Accept": "application/json"},
            )
        except RefusedAddress as error:
            raise ArrUnreachable("refused", f"{self.shown}: {error}") from None
        except httpx.TimeoutException:
            raise ArrUnreachable("timeout", f"{self.shown} did not answer in time") from None
        except httpx.HTTPError as error:
            if _tls_failure(error):
                raise ArrUnreachable(
                    "tls",
                    f"{self.shown}: its TLS certificate is not trusted (self-signed? turn off the app's "
                    "certificate check, or ARR_SSL_VERIFY=false)",
                ) from None
            raise ArrUnreachable(
                "unreachable", f"{self.shown} cannot be reached: {type(error).__name__}"
            ) from None
        if response.is_redirect:
            raise ArrError("wrong_url", f"{self.shown} answered with a redirect, which is not followed")
        if response.status_code == 401:
            raise ArrError("unauthorized", f"{self.shown} refused the API key (401)")
        if response.status_code == 404:
            raise ArrError("wrong_url", f"{self.shown} has no {method} {path} (404): is the URL right?")
        if response.status_code >= 400:
            raise ArrError("", f"{self.shown} answered {response.status_code} to {method} {path}")
        if len(response.content) > MAX_BODY_BYTES:
            raise ArrError("not_arr", f"{self.shown} sent an answer too large to read for {path}")
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise ArrError("not_arr", f"{self.shown} sent something other than JSON for {path}") from None

    async def status(self) -> tuple[str, str]:
        """The app's name and version; raises ``ArrError('not_arr')`` for a server that is no such app."""
        body = await self.call("GET", "system/status")
        name = body.get("appName") if isinstance(body, dict) else None
        if not isinstance(name, str) or not name:
            raise ArrError("not_arr", f"{self.shown} answers, but not as an Arr app")
        if name.lower() != self.api.name.lower():
            raise ArrError("not_arr", f"{self.shown} is {name}, not {self.api.name}")
        return name, str(body.get("version") or "")

    async def items(self) -> list[dict[str, Any]]:
        """Every series, movie or artist (with its folder, ``path``)."""
        body = await self.call("GET", self.api.items)
        return [i for i in body or () if isinstance(i, dict) and isinstance(i.get("id"), int)]

    async def rename_preview(self, item_id: int) -> list[dict[str, Any]]:
        body = await self.call("GET", "rename", params={self.api.item_id: item_id})
        return [r for r in body or () if isinstance(r, dict)]

    async def run_command(
        self,
        body: dict[str, Any],
        timeout: float,
        heartbeat: Callable[[], Awaitable[None]] | None = None,
    ) -> dict[str, Any]:
        """Start a command and wait for it to end (its status asked with a growing pause, at most
        ``timeout`` seconds); returns its last resource. Raises ``ArrError`` when it did not complete."""
        started = await self.call("POST", "command", body=body)
        command_id = started.get("id") if isinstance(started, dict) else None
        if not isinstance(command_id, int):
            raise ArrError("not_arr", f"{self.shown} did not say which command it started")
        deadline = time.monotonic() + timeout
        pause = FIRST_POLL_SECONDS
        current: dict[str, Any] = started
        while str(current.get("status")) not in FINISHED:
            if time.monotonic() >= deadline:
                raise ArrError("timeout", f"{self.shown}: {body['name']} did not finish within {timeout:g} s")
            await asyncio.sleep(pause)
            pause = min(pause * 2, LONGEST_POLL_SECONDS)
            if heartbeat is not None:
                await heartbeat()
            found = await self.call("GET", f"command/{command_id}")
            current = found if isinstance(found, dict) else {}
        if current.get("status") != "completed":
            # Its message is the app's words: not repeated (it may say anything).
            raise ArrError("", f"{self.shown}: {body['name']} ended {current.get('status')}, not completed")
        return current
