"""Who is watching: while the ``streaming`` setting is not ``off``, the scanner (which holds the servers'
tokens) asks Plex (``GET /status/sessions``) and Jellyfin (``GET /Sessions``) every few seconds which sessions
are playing, and writes the servers that have one, with their machine's addresses, in the ``playback`` bucket.
Encoders decide from it whether to pause (see the encoder's ``playback``).

A server that cannot be asked counts as nobody watching (logged once per streak of failures): a pause that
could never end would be worse than an encode beside a film. The value is rewritten at every poll, so a
stopped scanner's last word goes stale and the nodes resume.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
from librarrarian_contracts import encode, topology
from librarrarian_contracts.settings import StreamingSettings
from librarrarian_contracts.sources import JELLYFIN, PLEX
from librarrarian_contracts.views import ActivePlayback, PlaybackState
from librarrarian_runtime import machine
from librarrarian_runtime.bus import redact
from librarrarian_runtime.streaks import FailureStreak
from librarrarian_runtime.watched import Watched
from nats.js.kv import KeyValue

from .jellyfin import Jellyfin
from .source_store import SourceError, SourceStore

log = logging.getLogger(__name__)

# Plex's player states that use the server (a paused player asks nothing of it).
PLEX_PLAYING = frozenset({"playing", "buffering"})


async def plex_playing(http: httpx.AsyncClient, url: str, token: str) -> int:
    """How many Plex sessions are playing, from ``GET /status/sessions`` (JSON, as the document describes it;
    the token in a header, never in the URL)."""
    shown = redact(url)  # a URL may carry a user and password
    try:
        response = await http.get(
            f"{url.rstrip('/')}/status/sessions",
            headers={"X-Plex-Token": token, "Accept": "application/json"},
        )
    except httpx.HTTPError as error:
        raise SourceError(f"Plex at {shown} cannot be reached: {type(error).__name__}") from None
    if response.status_code in (401, 403):
        raise SourceError(f"Plex at {shown} refused the token: choose the server again")
    if response.status_code != 200:
        raise SourceError(f"Plex at {shown} answered {response.status_code} to GET /status/sessions")
    try:
        body: Any = response.json()
    except ValueError:
        raise SourceError(f"Plex at {shown} sent something other than JSON for /status/sessions") from None
    container = body.get("MediaContainer") if isinstance(body, dict) else None
    sessions = (container or {}).get("Metadata") or ()
    return sum(
        1
        for item in (sessions if isinstance(sessions, list) else ())
        if isinstance(item, dict) and str((item.get("Player") or {}).get("state", "")) in PLEX_PLAYING
    )


class PlaybackWatch:
    def __init__(
        self,
        store: SourceStore,
        http: httpx.AsyncClient,
        playback: KeyValue,
        streaming: Watched[StreamingSettings],
        interval: float = topology.PLAYBACK_POLL_SECONDS,
    ) -> None:
        self.store, self.http, self.playback = store, http, playback
        self.streaming, self.interval = streaming, interval
        self.streaks = {
            PLEX: FailureStreak(log, "asking Plex who is watching"),
            JELLYFIN: FailureStreak(log, "asking Jellyfin who is watching"),
        }
        self.wake = asyncio.Event()
        streaming.on_change(lambda _: self.wake.set())
        self._said: tuple[str, ...] = ()

    async def poll(self) -> PlaybackState:
        """The servers with a session playing now; none while the setting is ``off`` (then nobody is asked)."""
        if self.streaming.value.pause_while_streaming == "off":
            return PlaybackState()
        plex, jellyfin = await self.store.plex(), await self.store.jellyfin()
        asks: list[tuple[str, str, Any]] = []
        if plex.server_token and plex.url:
            asks.append((PLEX, plex.url, plex_playing(self.http, plex.url, plex.server_token)))
        if jellyfin.api_key and jellyfin.url:
            asks.append(
                (JELLYFIN, jellyfin.url, Jellyfin(self.http, jellyfin.url, jellyfin.api_key).playing())
            )
        playing = []
        for source, url, asking in asks:
            try:
                sessions = await asking
            except SourceError as error:
                self.streaks[source].failed(error)
                continue
            self.streaks[source].succeeded()
            if sessions:
                host = httpx.URL(url).host
                addresses = await asyncio.to_thread(machine.host_addresses, host)
                playing.append(
                    ActivePlayback(source=source, host=host, addresses=addresses, sessions=sessions)
                )
        return PlaybackState(playing=tuple(playing))

    async def run(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            self.wake.clear()
            try:
                state = await self.poll()
                await self.playback.put(topology.PLAYBACK_KEY, encode(state))
                self._log(state)
            except Exception:  # the loop's outermost edge: the next poll tries again
                log.exception("playback: the poll failed; trying again in %.0f s", self.interval)
            waits = [asyncio.ensure_future(stopping.wait()), asyncio.ensure_future(self.wake.wait())]
            try:
                await asyncio.wait(waits, timeout=self.interval, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()

    def _log(self, state: PlaybackState) -> None:
        """One line when who is watching changes, not one per poll."""
        said = tuple(f"{p.source} ({p.sessions} playing)" for p in state.playing)
        if said != self._said:
            log.info("playback: %s", ", ".join(said) if said else "nobody is watching")
            self._said = said
