"""Track plans on a real film: the encoder keeps exactly the planned audio and subtitle streams, and
verification refuses an output that holds any other."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import av
import msgspec
import pytest
from librarrarian_contracts import JobCompleted, publish, topology, tracks
from librarrarian_contracts.settings import TrackRules
from librarrarian_encoder.settings import Settings
from librarrarian_encoder.verify import VerifyError, verify
from librarrarian_media import probe
from librarrarian_testing import tracks as clips
from librarrarian_testing import transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, outcome, running_encoder, work


@pytest.fixture
async def node(
    bus: tuple[Client, JetStreamContext], nats_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Settings, Path]]:
    root = tmp_path / "media"
    root.mkdir()
    await transcode.put(bus[1], transcode.fastest(max_output_percent=1000))
    settings = node_settings(nats_url, root, "node-tracks", grace_seconds=5)
    async with running_encoder(settings):
        yield settings, root


def streams_of(path: Path) -> list[tuple[str, str | None, str | None, str]]:
    """Each audio and subtitle stream: kind, language, title, codec."""
    with av.open(str(path)) as container:
        return [
            (
                s.type,
                s.metadata.get("language"),
                s.metadata.get("title"),
                s.codec_context.codec.canonical_name,
            )
            for s in container.streams
            if s.type in ("audio", "subtitle")
        ]


async def test_the_planned_streams_and_only_they_are_kept(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node: tuple[Settings, Path],
    shared_media: Path,
) -> None:
    _, root = node
    source = clips.film(root / "film.mkv", shared_media)
    message = work(source)
    rules = TrackRules(languages=("eng",), drop_commentary=True, image_subtitles=False)
    plan = tracks.plan(message.probe, rules)
    assert plan is not None and plan.keep == (1, 5, 8)
    await publish(
        bus[1], msgspec.structs.replace(message, streams=plan.keep), topology.transcode_subject("cpu")
    )
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert streams_of(Path(done.output_path)) == [
        ("audio", "eng", None, "aac"),
        ("subtitle", "eng", None, "subrip"),
        ("subtitle", None, None, "subrip"),
    ]


async def test_without_a_plan_every_stream_stays(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    node: tuple[Settings, Path],
    shared_media: Path,
) -> None:
    _, root = node
    source = clips.film(root / "film.mkv", shared_media)
    before = streams_of(source)
    await publish(bus[1], work(source), topology.transcode_subject("cpu"))
    done = await outcome(scheduler, 1)
    assert isinstance(done, JobCompleted), getattr(done, "reason", done)
    assert streams_of(Path(done.output_path)) == before
    assert ("subtitle", "eng", None, "dvd_subtitle") in before and (
        "audio",
        "eng",
        "Commentary",
        "aac",
    ) in before


def test_verification_refuses_streams_the_plan_does_not_hold(tmp_path: Path, shared_media: Path) -> None:
    source = clips.film(tmp_path / "film.mkv", shared_media)
    message = work(source)
    verify(source, message.planned(), codec="h264", languages=True)  # the file itself: all it plans
    dropped = msgspec.structs.replace(message, streams=(1, 5, 8)).planned()
    with pytest.raises(VerifyError, match="4 audio stream"):
        verify(source, dropped, codec="h264", languages=True)
    # Same counts, another language in a kept place: a stream mapped wrong is caught too.
    swapped = [
        msgspec.structs.replace(s, language="fre") if s.index == 1 else s for s in message.planned().streams
    ]
    planned = msgspec.structs.replace(message.probe, streams=tuple(swapped))
    with pytest.raises(VerifyError, match="audio languages"):
        verify(source, planned, codec="h264", languages=True)
    assert probe(source).count("subtitle") == 4
