"""Path mappings from the ``paths`` setting: which apply on a node (its own ``PATH_MAPPINGS`` first, then the
node's entries, then every node's), and a real encoder on real NATS following the setting from its next job,
without a restart."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import JobCompleted, JobFailed, Transcode, publish, topology
from librarrarian_contracts.settings import PATHS_KEY, NodePathMapping, PathSettings
from librarrarian_contracts.sources import PathMapping
from librarrarian_encoder.settings import Settings
from librarrarian_runtime.path_mapping import for_node, parse, to_local
from librarrarian_testing import eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import NODE, Scheduler, outcome, work


def test_the_nodes_own_mappings_win_then_its_entries_then_every_nodes() -> None:
    own = parse("/media=/mnt/own")
    shared = PathSettings(
        mappings=(
            NodePathMapping(server="/media/", local="/mnt/everyone"),  # same folder as PATH_MAPPINGS: loses
            NodePathMapping(server="/tv", local="/mnt/everyone-tv"),
            NodePathMapping(server="/tv", local="/mnt/box-tv", node="box"),  # beats every node's /tv
            NodePathMapping(server="/music", local="/mnt/other", node="other"),  # not this node's
            NodePathMapping(server="/media/4k", local="/mnt/fast"),  # a deeper folder: longest prefix wins
        )
    )
    mappings = for_node(own, shared, "box")
    assert mappings == (
        PathMapping(server="/media", local="/mnt/own"),
        PathMapping(server="/tv", local="/mnt/box-tv"),
        PathMapping(server="/media/4k", local="/mnt/fast"),
    )
    assert to_local("/media/Movies/a.mkv", mappings) == "/mnt/own/Movies/a.mkv"
    assert to_local("/media/4k/b.mkv", mappings) == "/mnt/fast/b.mkv"
    assert to_local("/tv/c.mkv", mappings) == "/mnt/box-tv/c.mkv"
    assert to_local("/music/d.mkv", mappings) == "/music/d.mkv"
    assert for_node((), shared, "other") == (
        PathMapping(server="/music", local="/mnt/other"),
        PathMapping(server="/media/", local="/mnt/everyone"),
        PathMapping(server="/tv", local="/mnt/everyone-tv"),
        PathMapping(server="/media/4k", local="/mnt/fast"),
    )


@pytest.mark.parametrize(
    ("mappings", "reason"),
    [
        ([{"server": "/media", "local": "mnt/nas"}], "must be absolute"),
        ([{"server": "media", "local": "/mnt/nas"}], "must be absolute"),
        ([{"server": "/media", "local": "/mnt/../etc"}], "'..'"),
        ([{"server": "/media", "local": "/a"}, {"server": "/media/", "local": "/b"}], "mapped twice"),
        ([{"server": "D:\\Movies", "local": "/a"}, {"server": "d:/movies", "local": "/b"}], "mapped twice"),
        ([{"server": "/media", "local": "/a", "node": " box"}], "space"),
        ([{"server": "/media", "local": "/a\nb"}], "control characters"),
        ([{"server": "/media", "local": "/" + "a" * 4096}], "length"),
        ([{"server": f"/m{i}", "local": "/a"} for i in range(257)], "length"),
    ],
)
def test_a_bad_setting_is_refused_whole(mappings: list[dict[str, str]], reason: str) -> None:
    with pytest.raises(msgspec.ValidationError, match=reason):
        msgspec.convert({"mappings": mappings}, PathSettings)


def test_the_same_server_folder_may_have_an_entry_per_node() -> None:
    value = msgspec.convert(
        {
            "mappings": [
                {"server": "/media", "local": "/a"},
                {"server": "/media", "local": "/b", "node": "box"},
                {"server": "\\\\nas\\media", "local": "/c"},
            ]
        },
        PathSettings,
    )
    assert len(value.mappings) == 3


def as_server(request: Transcode, local_root: Path, server_root: str) -> Transcode:
    return msgspec.structs.replace(
        request, path=server_root + request.path.removeprefix(str(local_root.resolve()))
    )


async def test_a_mapping_from_the_setting_applies_to_the_next_job_without_a_restart(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node_starter: Callable[..., Awaitable[Settings]],
    media: library.Library,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="librarrarian_encoder.service")
    _, js = bus
    root = media.root.resolve()
    await transcode.put(js, transcode.fastest())
    await node_starter(path_mappings=parse(f"/srv/library={root}"))  # this node's own PATH_MAPPINGS
    avi = as_server(work(media.transcode["avi"], job_id=1), root, "/srv/other")
    await publish(js, avi, topology.transcode_subject("cpu"))
    failed = await outcome(scheduler, 1)
    assert isinstance(failed, JobFailed) and "outside this node's media paths" in failed.reason

    kv = await js.key_value(topology.SETTINGS.name)
    shared = PathSettings(
        mappings=(
            NodePathMapping(server="/srv/other", local=str(root), node=NODE),
            NodePathMapping(server="/srv/library", local="/nowhere"),  # PATH_MAPPINGS wins on this folder
            NodePathMapping(server="/srv/third", local=str(root), node="another-node"),
        )
    )
    await kv.put(PATHS_KEY, msgspec.json.encode(shared))
    wanted = f"path mappings (from the next job on): /srv/library={root}, /srv/other={root}"
    await eventually(lambda: wanted in caplog.text, timeout=10, message="the node follows the setting")

    avi = as_server(work(media.transcode["avi"], job_id=2), root, "/srv/other")  # a new event id
    await publish(js, avi, topology.transcode_subject("cpu"))
    done = await outcome(scheduler, 2)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.output_path == avi.path.removesuffix(".avi") + ".mkv"  # reported in the server's terms
    assert media.transcode["avi"].with_suffix(".mkv").exists()

    mp4 = as_server(work(media.transcode["mp4"], job_id=3), root, "/srv/library")
    await publish(js, mp4, topology.transcode_subject("cpu"))
    done = await outcome(scheduler, 3)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert done.output_path == mp4.path

    third = as_server(work(media.transcode["mkv"], job_id=4), root, "/srv/third")
    await publish(js, third, topology.transcode_subject("cpu"))
    failed = await outcome(scheduler, 4)
    assert isinstance(failed, JobFailed) and "outside this node's media paths" in failed.reason
