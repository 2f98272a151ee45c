"""A Plex webhook's new item, as the gateway hands it to the scanner: its files asked of the chosen server
(``/library/metadata/{id}``, a show's through ``allLeaves``), mapped, kept only inside the media paths, and
probed at once; items of another server or of a library not chosen are left alone."""

from __future__ import annotations

import logging

import pytest
from librarrarian_contracts import MediaProbed, MediaProbeFailed, topology
from librarrarian_contracts import sources as contract
from librarrarian_contracts.scans import ScanStatus
from librarrarian_runtime.errors import BadRequest
from librarrarian_runtime.queries import ask
from librarrarian_testing import eventually
from librarrarian_testing.scanning import scan_entries

from .test_sources_plex import World, _only_documented_requests, link_and_choose, world

__all__ = ["world"]  # the fixture, shared with the sync's tests


async def take(w: World, rating_key: str, section: str, server_id: str) -> contract.PlexItemTaken:
    item = contract.PlexItem(server_id=server_id, rating_key=rating_key, section_id=section)
    return await ask(w.nc, topology.SOURCES_PLEX_ITEM, item, contract.PlexItemTaken)


def probed(w: World) -> set[str]:
    return {e.path for e in w.events if isinstance(e, MediaProbed | MediaProbeFailed)}


async def test_a_new_items_files_are_probed_at_once(world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    w = world
    server_id = await link_and_choose(w)

    movie = await take(w, w.pms.rating_key("Big Buck Bunny"), "1", server_id)
    assert (movie.files, movie.handed, movie.refused, movie.ignored) == (1, 1, 0, "")
    mp4 = str(w.lib.transcode["mp4"].resolve())
    await eventually(lambda: mp4 in probed(w), timeout=60, message="the movie probed")
    assert probed(w) == {mp4}, "only the item's own file"

    async def finished() -> list[ScanStatus]:
        return [e for e in await scan_entries(w.js, "plex") if e.finished_at is not None]

    # the probe's event goes out before the scan's entry is written: wait for the entry
    (entry,) = await eventually(finished, timeout=30, message="the item's scan entry")
    assert (entry.seen, entry.probed) == (1, 1)

    show = await take(w, w.pms.show_key("2"), "2", server_id)
    assert (show.files, show.handed) == (2, 2), "a show is its episodes"
    episodes = {str(w.lib.transcode[kind].resolve()) for kind in ("mkv", "avi")}
    await eventually(lambda: probed(w) >= episodes, timeout=60, message="the episodes probed")

    escape = await take(w, w.pms.rating_key("Escape"), "1", server_id)
    assert (escape.files, escape.handed, escape.refused) == (1, 0, 1)
    assert "refusing /data/../outside/Secret.mkv" in caplog.text

    _only_documented_requests(w)
    asked = len(w.pms.seen)
    not_chosen = await take(w, w.pms.rating_key("Not chosen"), "4", server_id)
    assert "not one of the chosen libraries" in not_chosen.ignored and not_chosen.handed == 0
    elsewhere = await take(w, w.pms.rating_key("Big Buck Bunny"), "1", "another-server")
    assert "another Plex server" in elsewhere.ignored
    with pytest.raises(BadRequest, match="rating key"):
        await take(w, "../../library/sections/all", "1", server_id)
    assert len(w.pms.seen) == asked, "nothing asked of Plex for items left alone"
    assert w.pms.token not in caplog.text
