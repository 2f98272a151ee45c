"""Review before replace on a real encoder, real ffmpeg and real clips: a reviewed job keeps its verified
output (set aside under a review name, with a preview frame of each file) and leaves the original alone; a
user's accept puts that very output in place through the usual checked, atomic replace; a reject deletes
it and nothing else. A hostile folder (the waiting output swapped, or replaced by a symlink; the original
changed while it waited) gets a refusal with every file as it was, and a kill -9 between the steps of an
accept leaves the original or the output whole, the job ending right on the next delivery."""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import (
    JobCompleted,
    JobFailed,
    JobSkipped,
    ReviewDecision,
    ReviewRequested,
    Transcode,
    publish,
    topology,
)
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import earlier, review
from librarrarian_encoder.folder import Folder
from librarrarian_runtime import recycle
from librarrarian_testing import WORK_ACK_WAIT_SECONDS, eventually, library, transcode
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import (
    Scheduler,
    encoder_environment,
    encoder_process,
    node_settings,
    outcome,
    running_encoder,
    work,
)

CPU = topology.transcode_subject(HwClass.CPU)
JPEG = b"\xff\xd8\xff"


def reviewed(path: Path, job_id: int) -> Transcode:
    return msgspec.structs.replace(work(path, job_id=job_id), review=True)


def decided(encode: Transcode, kept: ReviewRequested, accept: bool) -> Transcode:
    """The job's next attempt, carrying the user's decision (as the scheduler sends it)."""
    return msgspec.structs.replace(
        encode,
        event_id=f"{encode.job_id}:{encode.attempt + 1}@cpu",
        attempt=encode.attempt + 1,
        decision=ReviewDecision(accept=accept, output=kept.output),
    )


async def keep(
    js: JetStreamContext, scheduler: Scheduler, source: Path, job_id: int
) -> tuple[Transcode, ReviewRequested]:
    encode = reviewed(source, job_id)
    await publish(js, encode, CPU)
    kept = await outcome(scheduler, job_id)
    assert isinstance(kept, ReviewRequested), kept
    return encode, kept


async def decision_outcome(scheduler: Scheduler, job_id: int, attempt: int) -> object:
    def final() -> object:
        ended = [
            e
            for e in scheduler.events
            if e.job_id == job_id
            and e.attempt == attempt
            and isinstance(e, JobCompleted | JobSkipped | JobFailed)
        ]
        return ended[0] if ended else None

    return await eventually(final, timeout=60, message=f"job {job_id} decided")


def temporary(folder: Path) -> list[Path]:
    return sorted(folder.glob(".tmp_librarrarian-*"))


async def test_kept_for_review_then_accepted(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, nats_url: str, media: library.Library
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    await transcode.put(js, transcode.fastest())
    async with running_encoder(node_settings(nats_url, media.root, "reviewer")):
        encode, kept = await keep(js, scheduler, source, 1)
        # The original untouched; the output beside it under its review name, the one the report names.
        assert library.sha256(source) == digest
        waiting = source.parent / kept.output.name
        assert temporary(source.parent) == [waiting]
        assert kept.output.name.startswith(review.REVIEW_PREFIX)
        assert kept.output_path == str(waiting)
        assert kept.size_before == source.stat().st_size
        assert kept.size_after == waiting.stat().st_size == kept.output.identity.size
        assert kept.output.codec == "hevc"
        assert kept.previews is not None and all(p.startswith(JPEG) for p in kept.previews)
        assert kept.previews[0] != kept.previews[1]  # one of each file
        assert kept.preview_at is not None
        # A later attempt of the job never takes the kept output for its own litter.
        assert not earlier.is_earlier_output(kept.output.name, 1, source.stem)
        output_digest = library.sha256(waiting)

        await publish(js, decided(encode, kept, accept=True), CPU)
        done = await decision_outcome(scheduler, 1, 2)
    assert isinstance(done, JobCompleted), done
    assert done.size_after == kept.size_after and done.codec_after == "hevc"
    assert library.sha256(source) == output_digest  # that very output, in the original's place
    assert temporary(source.parent) == []
    assert [r.attempt for r in scheduler.requests] == [1, 2]  # each under the commit


async def test_a_reject_deletes_only_our_output(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, nats_url: str, media: library.Library
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    digest = library.sha256(source)
    await transcode.put(js, transcode.fastest())
    neighbours = {p: library.sha256(p) for p in source.parent.iterdir() if p.is_file()}
    async with running_encoder(node_settings(nats_url, media.root, "reviewer")):
        encode, kept = await keep(js, scheduler, source, 2)
        await publish(js, decided(encode, kept, accept=False), CPU)
        rejected = await decision_outcome(scheduler, 2, 2)
        assert isinstance(rejected, JobSkipped) and "deleted" in rejected.reason
        # Told again (a redelivery): nothing more is deleted, the answer is the same kind.
        again = msgspec.structs.replace(decided(encode, kept, accept=False), event_id="2:3@cpu", attempt=3)
        await publish(js, again, CPU)
        repeated = await decision_outcome(scheduler, 2, 3)
        assert isinstance(repeated, JobSkipped) and "gone already" in repeated.reason
    assert library.sha256(source) == digest
    assert temporary(source.parent) == []
    assert {p: library.sha256(p) for p in source.parent.iterdir() if p.is_file()} == neighbours


@pytest.mark.parametrize("attack", ["swapped", "symlink", "linked", "original changed"])
async def test_a_hostile_folder_is_refused_with_nothing_lost(
    attack: str,
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
    tmp_path: Path,
) -> None:
    _, js = bus
    source = media.transcode["mp4"]
    await transcode.put(js, transcode.fastest())
    outside = tmp_path / "outside.mkv"
    outside.write_bytes(b"someone else's file, outside the library")
    async with running_encoder(node_settings(nats_url, media.root, "reviewer")):
        encode, kept = await keep(js, scheduler, source, 3)
        waiting = source.parent / kept.output.name
        ours = waiting.read_bytes()
        moved = tmp_path / "ours.mkv"
        if attack == "swapped":  # another file under the output's name (same size even)
            shutil.move(waiting, moved)
            waiting.write_bytes(ours)
        elif attack == "symlink":
            shutil.move(waiting, moved)
            waiting.symlink_to(outside)
        elif attack == "linked":  # a second name of the output, made by someone else
            os.link(waiting, tmp_path / "second-name.mkv")
        else:
            with source.open("ab") as f:
                f.write(b"\0" * 16)
        original = source.read_bytes()
        planted = waiting.read_bytes() if waiting.exists() else None
        for accept in (True, False):
            attempt = 2 if accept else 3
            message = decided(encode, kept, accept=accept)
            message = msgspec.structs.replace(message, event_id=f"3:{attempt}@cpu", attempt=attempt)
            await publish(js, message, CPU)
            answer = await decision_outcome(scheduler, 3, attempt)
            if attack == "original changed" and not accept:
                # Rejecting an output is fine whatever became of the original: only the output goes.
                assert isinstance(answer, JobSkipped), answer
                break
            assert isinstance(answer, JobFailed) and not answer.retryable, answer
    # Nothing lost: the original as it was (or as its owner changed it), what lies at the output's name as
    # planted, our output where the test moved it, the file outside untouched.
    assert source.read_bytes() == original
    assert outside.read_bytes() == b"someone else's file, outside the library"
    if attack in ("swapped", "symlink"):
        assert moved.read_bytes() == ours
        assert waiting.is_symlink() == (attack == "symlink")
        assert waiting.read_bytes() == planted
    elif attack == "linked":
        assert waiting.read_bytes() == ours
    else:
        assert not waiting.exists()


@pytest.mark.parametrize(
    ("point", "clip"),
    [
        pytest.param("after-commit", "mp4", marks=pytest.mark.kill_matrix),
        pytest.param("after-recycle", "mp4", marks=pytest.mark.kill_matrix),
        pytest.param("after-rename", "mp4", marks=pytest.mark.kill_matrix),
        pytest.param("after-rename", "avi", marks=pytest.mark.kill_matrix),
    ],
)
async def test_a_kill_during_an_accept_loses_nothing(
    point: str,
    clip: str,
    bus: tuple[Client, JetStreamContext],
    scheduler: Scheduler,
    nats_url: str,
    media: library.Library,
) -> None:
    _, js = bus
    source = media.transcode[clip]
    final = source.with_suffix(".mkv") if clip == "avi" else source
    digest = library.sha256(source)
    await transcode.put(js, transcode.fastest())
    async with running_encoder(node_settings(nats_url, media.root, "reviewer")):
        encode, kept = await keep(js, scheduler, source, 4)
    waiting = source.parent / kept.output.name
    output_digest = library.sha256(waiting)

    doomed = await encoder_process(encoder_environment(nats_url, media.root, "doomed", failpoint=point))
    await publish(js, decided(encode, kept, accept=True), CPU)
    assert await asyncio.wait_for(doomed.wait(), 120) == -9
    # The moment after the kill: the original whole, the output whole (under its review name, or in place).
    if point in ("after-commit", "after-recycle"):
        assert library.sha256(source) == digest and library.sha256(waiting) == output_digest
    else:
        assert library.sha256(final) == output_digest and not waiting.exists()
        if clip == "avi":
            assert library.sha256(source) == digest  # its removal was the step still to do

    async with running_encoder(node_settings(nats_url, media.root, "survivor")):
        done = await eventually(
            lambda: [e for e in scheduler.of(JobCompleted) if e.job_id == 4],
            timeout=WORK_ACK_WAIT_SECONDS + 90,
            message="the accept finished by the next delivery",
        )
    assert len(done) == 1 and done[0].node == "survivor" and done[0].attempt == 2
    assert library.sha256(final) == output_digest
    assert source.exists() == (clip != "avi")
    assert temporary(source.parent) == []
    # The recycle folder (on: a new installation) keeps the original once, whichever delivery kept it.
    kept_originals = [p for p in (media.root / recycle.FOLDER).iterdir() if not p.suffix]
    assert len(kept_originals) == 1 and library.sha256(kept_originals[0]) == digest


async def test_set_aside_never_overwrites(tmp_path: Path) -> None:
    """The review name is taken with a link, never a rename over whatever has that name already."""
    folder_path = tmp_path / "films"
    folder_path.mkdir()
    with Folder.open(folder_path, (tmp_path,)) as folder:
        name = ".tmp_librarrarian-5-0123456789abcdef-Film.mkv"
        fd = folder.create(name)
        try:
            os.write(fd, b"verified output")
            planted = folder_path / review.review_name(name)
            planted.write_bytes(b"planted first")
            with pytest.raises(FileExistsError):
                review.set_aside(folder, review.replace.Output(name, fd))
        finally:
            os.close(fd)
    assert planted.read_bytes() == b"planted first"
    assert (folder_path / name).read_bytes() == b"verified output"
