"""A job's next attempt removes the temporary outputs its earlier attempts left beside the original, and
nothing else, in a folder whose other writers plant things at those names: a symlink to a file outside the
library, a folder, a file of another user's, a second name of someone's file, names of other jobs and other
files. An attempt whose output was removed so steps aside. (The whole of it, with a real encoder killed
mid-encode, is in ``test_kill.py`` and ``test_failpoints.py``.)"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from librarrarian_contracts import JobFailed
from librarrarian_contracts.settings import TranscodeSettings
from librarrarian_encoder import earlier, replace
from librarrarian_encoder.folder import Folder
from librarrarian_encoder.job import Verified
from librarrarian_encoder.pipeline import Pipeline
from librarrarian_testing.outside import Outside
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, work

JOB = 7
A, B, C = "0123456789abcdef", "fedcba9876543210", "00000000ffffffff"


@pytest.fixture
def film(tmp_path: Path) -> Path:
    folder = tmp_path / "media" / "Film (2020)"
    folder.mkdir(parents=True)
    (folder / "Film (2020).mp4").write_bytes(b"the original")
    return folder.resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Outside]:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim.mp4").write_bytes(b"a file of someone else's, outside the library")
    with Outside(folder) as watched:
        yield watched


def name(token: str, stem: str = "Film (2020)", suffix: str = ".mp4", job: int = JOB) -> str:
    return replace.temp_name(job, token, stem, suffix)


def remove(folder: Path) -> list[str]:
    with Folder.open(folder, (folder.parent,)) as held:
        return earlier.remove(held, JOB, "Film (2020)")


def test_the_earlier_attempts_outputs_go_and_nothing_else(film: Path, outside: Outside) -> None:
    ours = [name(A), name(B, suffix=".mkv"), name(C, suffix=".MP4")]
    for each in ours:
        (film / each).write_bytes(b"half an encode")
    others = [
        name(A, job=JOB * 10 + JOB),  # another job ("77" starts with "7")
        name(A, job=17),
        name(A, stem="Film (2020) extras"),  # another file's output
        name(A, stem="Film"),
        name("not-a-token-0000"),  # not a name we give
        name(A, suffix=".mp4.part"),
        "Film (2020).mp4.part",  # another program's
        ".tmp_librarrarian-Film (2020).mp4",  # an older version's name, for the cleanup service
    ]
    for each in others:
        (film / each).write_bytes(b"not an output of this job")

    assert sorted(remove(film)) == sorted(ours)
    assert sorted(p.name for p in film.iterdir()) == sorted(["Film (2020).mp4", *others])
    assert (film / "Film (2020).mp4").read_bytes() == b"the original"
    assert outside.touched() == []


def test_a_symlink_at_an_earlier_outputs_name_is_not_followed(film: Path, outside: Outside) -> None:
    """Planted by whoever can write in the folder, to get a file outside deleted or truncated."""
    (film / name(A)).symlink_to(outside.root / "victim.mp4")
    (film / name(B)).symlink_to(outside.root)  # a folder outside
    (film / name(C)).symlink_to(outside.root / "nothing-here.mp4")  # dangling
    assert remove(film) == []
    assert outside.touched() == []  # not opened, read, written or deleted: the content is checked too
    for token in (A, B, C):
        assert (film / name(token)).is_symlink()


def test_a_folder_or_a_second_name_of_a_file_is_left_alone(film: Path, outside: Outside) -> None:
    (film / name(A)).mkdir()
    (film / name(A) / "inside.mp4").write_bytes(b"someone's")
    os.link(outside.root / "victim.mp4", film / name(B))  # the same file, under a name of ours
    outside.touched()  # the link itself (the file's link count changed)
    assert remove(film) == []
    assert outside.touched() == []
    assert (film / name(A) / "inside.mp4").read_bytes() == b"someone's"
    assert (film / name(B)).samefile(outside.root / "victim.mp4")


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_another_users_file_at_an_earlier_outputs_name_is_left_alone(film: Path) -> None:
    (film / name(A)).write_bytes(b"another user's")
    os.chown(film / name(A), 65534, 65534)
    (film / name(B)).write_bytes(b"half an encode")
    assert remove(film) == [name(B)]
    assert (film / name(A)).read_bytes() == b"another user's"


def test_a_long_name_is_recognised_as_it_was_shortened(film: Path) -> None:
    stem = "A film whose name is very long " * 10
    (film / name(A, stem=stem)).write_bytes(b"half an encode")
    with Folder.open(film, (film.parent,)) as held:
        assert earlier.remove(held, JOB, stem) == [name(A, stem=stem)]


async def test_an_attempt_whose_output_a_later_one_removed_steps_aside_without_the_commit(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, film: Path, nats_url: str, shared_media: Path
) -> None:
    """A node paused past its lease wakes after the job's next attempt removed its output: it must not take
    the commit (the grant would be its, and its rename would then fail); if it had the grant already, its
    failure leaves the job to be tried again, not failed for good."""
    nc, _ = bus
    source = film / "Film (2020).mp4"
    shutil.copyfile(shared_media / "bikes.mp4", source)
    with Folder.open(film, (film.parent,)) as held:
        output = replace.create_output(held, JOB, source.stem, source.suffix)
        os.write(output.fd, b"a verified output")
        assert earlier.remove(held, JOB, source.stem) == [output.name]  # the next attempt's first step
        job = Verified(
            request=work(source, job_id=JOB),
            delivery=1,
            node="paused",
            transcode=TranscodeSettings(),
            mappings=(),
            source=source,
            final=source,
            folder=held,
            original=-1,
            output=output,
            encoder="libx265",
            fallback_reason=None,
            ffmpeg_log="",
            size_after=17,
            codec_after="hevc",
            duration=1.0,
            vmaf=None,
        )
        pipeline = Pipeline(nc, node_settings(nats_url, film.parent, "paused"), None, set())  # type: ignore[arg-type]
        try:
            outcome = await pipeline.commit(job)
            # Had it been granted the commit just before, its replace fails, and the job may be tried again.
            replaced = await pipeline.replace(job)
        finally:
            pipeline.close()
            os.close(output.fd)
    assert isinstance(outcome, JobFailed) and outcome.retryable
    assert "removed" in outcome.reason
    assert scheduler.requests == []  # never asked
    assert isinstance(replaced, JobFailed) and replaced.retryable
    assert source.read_bytes() == (shared_media / "bikes.mp4").read_bytes()
