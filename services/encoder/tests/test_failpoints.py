"""kill -9 at the worst moments of a job: its output just created (not yet handed to ffmpeg), while verifying,
between the commit and the rename, between the original's keeping in the recycle folder and the rename, and
just after the rename (the new file in place, the old one still to go when the container changed, or the
report still to send). Each time the user's file survives, the job is redelivered to another node, and it ends with exactly
one verified output in place."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import av
import pytest
from librarrarian_contracts import JobCompleted, JobFailed, JobStarted, publish, topology
from librarrarian_contracts.topology import HwClass
from librarrarian_runtime import recycle
from librarrarian_testing import WORK_ACK_WAIT_SECONDS, eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import (
    Scheduler,
    encoder_environment,
    encoder_process,
    node_settings,
    running_encoder,
    work,
)


@pytest.mark.parametrize(
    ("point", "clip", "recycling"),
    [
        # Each moment, each container, in `make test-kills`; `make test` keeps the finish of a replace done
        # with no recycle folder and no tag (the survivor encodes again in `test_kill.py`).
        pytest.param("output-created", "mp4", True, marks=pytest.mark.kill_matrix),
        pytest.param("verifying", "avi", True, marks=pytest.mark.kill_matrix),
        pytest.param("after-commit", "mp4", True, marks=pytest.mark.kill_matrix),
        pytest.param("after-commit", "avi", True, marks=pytest.mark.kill_matrix),
        pytest.param("after-recycle", "mp4", True, marks=pytest.mark.kill_matrix),
        pytest.param("after-recycle", "avi", True, marks=pytest.mark.kill_matrix),
        pytest.param("after-rename", "avi", True, marks=pytest.mark.kill_matrix),
        pytest.param("after-rename", "mp4", True, marks=pytest.mark.kill_matrix),
        # No recycle folder and no tag in an MP4: only the identity its commit was granted for says the file
        # in place is the doomed attempt's output.
        ("after-rename", "mp4", False),
    ],
)
async def test_a_kill_at_the_worst_moment_loses_nothing(
    point: str,
    clip: str,
    recycling: bool,
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    tmp_path: Path,
    media: library.Library,
) -> None:
    _, js = bus
    source = media.transcode[clip]
    final = source.with_suffix(".mkv") if clip == "avi" else source
    digest = library.sha256(source)
    await transcode.put(js, transcode.fastest(recycle=recycling))
    env = encoder_environment(nats_url, media.root, "doomed", failpoint=point)
    doomed = await encoder_process(env)
    await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
    assert await asyncio.wait_for(doomed.wait(), 120) == -9

    # The moment after the kill: the original is there, untouched; after the rename, the output too, and the
    # original beside it (another container) or, when the output took its name, in the recycle folder.
    kept = [p for p in (media.root / recycle.FOLDER).glob("*") if not p.suffix]
    if point == "after-rename" and clip == "mp4":
        assert library.sha256(source) != digest
        assert [library.sha256(p) for p in kept] == ([digest] if recycling else [])
    else:
        assert source.exists() and library.sha256(source) == digest
    if point == "after-rename":
        assert final.exists()
    elif clip == "avi":
        assert not final.exists()
    left = list(source.parent.glob(".tmp_librarrarian-*"))
    if point == "output-created":
        # An empty output of ours, readable by nobody else: the next attempt of the job removes it.
        assert len(left) == 1 and left[0].stat().st_size == 0 and left[0].stat().st_mode & 0o777 == 0o600

    async with running_encoder(node_settings(nats_url, media.root, "survivor")):
        done = await eventually(
            lambda: scheduler.of(JobCompleted),
            timeout=WORK_ACK_WAIT_SECONDS + 90,
            message="completed elsewhere",
        )

    assert len(done) == 1 and done[0].node == "survivor" and done[0].output_path == str(final.resolve())
    # The survivor's own output took the original's place, and it removed what the doomed attempt left.
    assert list(source.parent.glob(".tmp_librarrarian-*")) == []
    with av.open(str(final)) as container:
        assert container.streams.video[0].codec_context.name == "hevc"
    assert source.exists() == (clip != "avi")
    if point == "after-rename":
        # The survivor recognised the doomed attempt's replace (its tag, or its recycle entry: an MP4 keeps
        # no tag) and reported it, the kept original with it.
        assert done[0].encoder.startswith("unknown") and (done[0].recycled is not None) == recycling
    granted = [(g.node, g.delivery) for g in scheduler.requests]
    assert granted[-1] == ("survivor", 2)
    starts = [s.node for s in scheduler.of(JobStarted)]
    # After the rename the output was already verified and in place: the survivor finishes, it does not encode again.
    assert starts == (["doomed"] if point == "after-rename" else ["doomed", "survivor"])
    # The recycle folder (on: a new installation) keeps the original once, whichever attempt kept it: an
    # entry the doomed one made before its rename was dropped by the survivor, not kept twice.
    if recycling:
        kept = [p for p in (media.root / recycle.FOLDER).iterdir() if not p.suffix]
        assert len(kept) == 1 and library.sha256(kept[0]) == digest


async def test_a_redelivery_that_finds_the_file_gone_takes_the_commit_over_before_it_says_so(
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    await transcode.put(js, transcode.fastest())
    doomed = await encoder_process(encoder_environment(nats_url, media.root, "doomed", failpoint="verifying"))
    await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
    assert await asyncio.wait_for(doomed.wait(), 120) == -9
    source.unlink()  # the user deleted it meanwhile

    async with running_encoder(node_settings(nats_url, media.root, "survivor")):
        (failed,) = await eventually(
            lambda: scheduler.of(JobFailed),
            timeout=WORK_ACK_WAIT_SECONDS + 90,
            message="the failure",
        )
    assert (failed.node, failed.delivery, failed.reason) == ("survivor", 2, "the file is gone")
    # The doomed delivery started the attempt, so the scheduler counts the survivor's report only once the
    # survivor holds the commit: it asked for it first, with nothing to put in place.
    assert [(r.node, r.delivery, r.output) for r in scheduler.requests] == [("survivor", 2, None)]
    assert list(source.parent.glob(".tmp_librarrarian-*")) == []  # the doomed attempt's output went too


@pytest.mark.kill_matrix  # waits out AckWait: `make test-kills`
async def test_a_file_swapped_in_after_a_crashed_replace_is_not_taken_for_our_output(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, nats_url: str, media: library.Library
) -> None:
    """Someone replaces the crashed attempt's output with a copy of it (same bytes, size and mtime, another
    inode): only the very file the commit was granted for is ours, so the survivor ends the job failed and
    leaves the copy as it is."""
    _, js = bus
    source = media.transcode["mp4"]
    await transcode.put(js, transcode.fastest(recycle=False))
    doomed = await encoder_process(
        encoder_environment(nats_url, media.root, "doomed", failpoint="after-rename")
    )
    await publish(js, work(source), topology.transcode_subject(HwClass.CPU))
    assert await asyncio.wait_for(doomed.wait(), 120) == -9
    copy = source.with_name("someone's copy.mp4")
    shutil.copy2(source, copy)  # keeps the mtime
    os.replace(copy, source)
    digest = library.sha256(source)

    async with running_encoder(node_settings(nats_url, media.root, "survivor")):
        (failed,) = await eventually(
            lambda: scheduler.of(JobFailed),
            timeout=WORK_ACK_WAIT_SECONDS + 90,
            message="the failure",
        )
    assert (failed.node, failed.delivery) == ("survivor", 2) and "changed" in failed.reason
    assert scheduler.of(JobCompleted) == [] and library.sha256(source) == digest
