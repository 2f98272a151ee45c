"""Asking Plex and Jellyfin who is watching, against the fake servers: only sessions playing count, a server
that refuses counts as nobody watching (said once, without its token), and nobody is asked when it is off."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from librarrarian_contracts.settings import StreamingSettings
from librarrarian_contracts.sources import JellyfinSettings, PlexSettings
from librarrarian_runtime import machine, outbound
from librarrarian_runtime.outbound import PrivateServers
from librarrarian_scanner.playback import PlaybackWatch
from librarrarian_testing.media_servers import FakeJellyfin, FakePlexServer, serving


class Store:
    """The settings the scanner keeps, as its source store hands them out."""

    def __init__(self, plex: PlexSettings, jellyfin: JellyfinSettings) -> None:
        self._plex, self._jellyfin = plex, jellyfin

    async def plex(self) -> PlexSettings:
        return self._plex

    async def jellyfin(self) -> JellyfinSettings:
        return self._jellyfin


class Setting:
    def __init__(self, value: StreamingSettings) -> None:
        self.value = value

    def on_change(self, listener: Callable[[StreamingSettings], None]) -> None:
        pass


async def test_only_playing_sessions_count_and_a_refusing_server_is_nobody_watching(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    pms, jf = FakePlexServer(players=["playing"]), FakeJellyfin(watching=[True])
    http = outbound.client(PrivateServers.ALL, 10)
    async with serving(pms.build()) as pms_url, serving(jf.build()) as jf_url:
        store = Store(
            PlexSettings(url=pms_url, server_token="not-the-token"),
            JellyfinSettings(url=jf_url, api_key=jf.api_key),
        )
        watch = PlaybackWatch(store, http, None, Setting(StreamingSettings()))  # type: ignore[arg-type]
        try:
            assert (await watch.poll()).playing == ()  # Plex refuses; Jellyfin's viewer paused
            assert (await watch.poll()).playing == ()
            jf.watching = [True, False]
            state = await watch.poll()
        finally:
            await http.aclose()
    (jellyfin,) = state.playing
    assert (jellyfin.source, jellyfin.host, jellyfin.sessions) == ("jellyfin", "127.0.0.1", 1)
    assert set(jellyfin.addresses) == machine.own_addresses()  # loopback: the scanner's own machine
    refused = [r for r in caplog.records if "asking Plex who is watching failed" in r.getMessage()]
    assert len(refused) == 1, "said once per streak"
    assert "refused the token" in refused[0].getMessage()
    assert "not-the-token" not in caplog.text and jf.api_key not in caplog.text


async def test_off_asks_nobody() -> None:
    pms, jf = FakePlexServer(players=["playing"]), FakeJellyfin(watching=[False])
    http = outbound.client(PrivateServers.ALL, 10)
    async with serving(pms.build()) as pms_url, serving(jf.build()) as jf_url:
        store = Store(
            PlexSettings(url=pms_url, server_token=pms.token),
            JellyfinSettings(url=jf_url, api_key=jf.api_key),
        )
        off: Any = Setting(StreamingSettings(pause_while_streaming="off"))
        try:
            assert (await PlaybackWatch(store, http, None, off).poll()).playing == ()  # type: ignore[arg-type]
            assert not pms.seen and not jf.seen
            on: Any = Setting(StreamingSettings(pause_while_streaming="all"))
            state = await PlaybackWatch(store, http, None, on).poll()  # type: ignore[arg-type]
        finally:
            await http.aclose()
    assert [(p.source, p.sessions) for p in state.playing] == [("plex", 1), ("jellyfin", 1)]
