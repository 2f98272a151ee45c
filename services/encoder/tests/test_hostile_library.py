"""A library written by someone who wants a root encoder to reach outside it: symlinks planted at every name
the output could take (the old predictable names, and the very names the encoder draws), the final name
planted as a symlink to a tempting file outside, the folder swapped for a symlink between plan and replace
(and right after its last check), the original and the output swapped under the encoder, names made to look
like options or to break quoting, and lists of other files saved under a video's name, one of them after the
scan with its identity kept. A real encoder and real ffmpeg on real clips.

Nothing outside the library may be created, changed, opened or read (a folder outside is watched with
inotify), and every original must survive: byte-identical, or replaced by a verified output. Each attack is
counted, with what got through (nothing), in ``bench/out/security-files.json``."""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import pytest
from librarrarian_contracts import (
    JobCompleted,
    JobFailed,
    JobReport,
    JobSkipped,
    MediaProbe,
    Transcode,
    publish,
    topology,
)
from librarrarian_contracts.topology import HwClass
from librarrarian_encoder import replace
from librarrarian_encoder.folder import Folder
from librarrarian_encoder.pipeline import Pipeline
from librarrarian_encoder.verify import VerifyError, verify
from librarrarian_media import probe
from librarrarian_testing import handled, library, transcode
from librarrarian_testing.clips import ffmpeg
from librarrarian_testing.outside import Outside
from nats.aio.client import Client
from nats.js import JetStreamContext

from .encoder_client import Scheduler, node_settings, outcome, running_encoder, work

REPO_ROOT = Path(__file__).resolve().parents[3]
SUMMARY = REPO_ROOT / "bench" / "out" / "security-files.json"
CPU = topology.transcode_subject(HwClass.CPU)


@dataclass
class Attack:
    """One thing tried, what it aimed at outside the library, and what of it got through."""

    scenario: str
    attack: str
    targets: tuple[Path, ...] = ()
    got_through: list[str] = field(default_factory=list)


@dataclass
class Findings:
    """Every attack of the test, and the expectations that did not hold (a wrong outcome is no escape)."""

    attacks: list[Attack] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    def tried(self, scenario: str, attack: str, *targets: Path) -> Attack:
        self.attacks.append(Attack(scenario, attack, targets))
        return self.attacks[-1]

    def expect(self, holds: bool, message: str) -> None:
        if not holds:
            self.wrong.append(message)

    def settle(self, scenario: str, outside: Outside) -> None:
        """Give the scenario's attacks whatever happened outside since the last one: to the attacks that
        aimed at the path touched, or to all of them when none did."""
        touched = outside.touched()
        mine = [a for a in self.attacks if a.scenario == scenario]
        for line in touched:
            aimed = [a for a in mine if any(str(t) in line for t in a.targets)] or mine
            for attack in aimed:
                attack.got_through.append(line)

    def lost(self, scenario: str, what: str) -> None:
        """A library file lost or changed without a verified output in its place: every attack of the
        scenario got through."""
        for attack in self.attacks:
            if attack.scenario == scenario:
                attack.got_through.append(what)

    def summary(self) -> dict[str, object]:
        return {
            "tried": len(self.attacks),
            "got_through": sum(1 for a in self.attacks if a.got_through),
            "attacks": [
                {"scenario": a.scenario, "attack": a.attack, "got_through": a.got_through}
                for a in self.attacks
            ],
        }


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory, shared_media: Path) -> dict[str, Path]:
    """Two seconds of a real clip as H.264/AAC in MP4 and MKV, and as MPEG-4/MP3 in AVI."""
    folder = tmp_path_factory.mktemp("clips")
    bikes = shared_media / "bikes.mp4"
    tone = ("-f", "lavfi", "-i", "sine=frequency=440:duration=2")
    made = {name: folder / f"clip.{name}" for name in ("mp4", "mkv", "avi")}
    ffmpeg("-t", "2", "-i", bikes, *tone, "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac",
           "-shortest", made["mp4"])  # fmt: skip
    ffmpeg("-i", made["mp4"], "-c", "copy", made["mkv"])
    ffmpeg("-t", "2", "-i", bikes, *tone, "-c:v", "mpeg4", "-c:a", "libmp3lame", "-shortest", made["avi"])
    return made


@dataclass
class Library:
    """The hostile library, the folder outside it, and the hooks that play the attacker mid-job."""

    root: Path
    outside: Path
    clips: dict[str, Path]
    before_commit: dict[int, Callable[[], None]] = field(default_factory=dict)
    after_last_check: dict[Path, Callable[[], None]] = field(default_factory=dict)
    drawn: list[str] = field(default_factory=list)  # the next output tokens, known to the attacker

    def film(self, folder: str, name: str, clip: str) -> Path:
        (self.root / folder).mkdir(parents=True, exist_ok=True)
        path = self.root / folder / name
        shutil.copyfile(self.clips[clip], path)
        return path


@pytest.fixture
def hostile(tmp_path: Path, clips: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Library]:
    """The encoder's own steps, with the attacker acting at the moments the hooks name: before the commit
    (after plan, encode and verify), right after the folder's last check, and when a token is drawn."""
    lib = Library(root=(tmp_path / "media").resolve(), outside=(tmp_path / "outside").resolve(), clips=clips)
    lib.root.mkdir()
    lib.outside.mkdir()
    commit = Pipeline.commit
    still_reached = Folder.still_reached

    async def attacked_commit(self: Pipeline, job):  # type: ignore[no-untyped-def]
        hook = lib.before_commit.pop(job.id, None)
        if hook is not None:
            hook()
        return await commit(self, job)

    def attacked_check(self: Folder) -> bool:
        reached = still_reached(self)
        hook = lib.after_last_check.pop(self.path, None)
        if hook is not None:
            hook()
        return reached

    monkeypatch.setattr(Pipeline, "commit", attacked_commit)
    monkeypatch.setattr(Folder, "still_reached", attacked_check)
    monkeypatch.setattr(replace, "new_token", lambda: lib.drawn.pop(0) if lib.drawn else secrets.token_hex(8))
    yield lib


def is_verified_output(path: Path, before: MediaProbe) -> bool:
    """``path`` is a regular file holding a verified HEVC output of a file that probed as ``before``."""
    if path.is_symlink() or not path.is_file():
        return False
    try:
        verify(path, before)
    except VerifyError:
        return False
    return True


def outside_lure(lib: Library, source: Path, job_id: int) -> Path:
    """What an attacker would put outside for the encoder to take as its own earlier output: a verified
    HEVC encode of ``source`` carrying the job's tag."""
    lure = lib.outside / "lure.mkv"
    ffmpeg("-i", source, "-c:v", "libx265", "-preset", "ultrafast", "-x265-params", "log-level=error",
           "-c:a", "copy", "-metadata", f"LIBRARRARIAN_JOB={job_id}", lure)  # fmt: skip
    return lure


def padded_list(text: str, size: int) -> bytes:
    """A concat list or playlist exactly ``size`` bytes long (blank lines after it)."""
    content = text.encode()
    assert len(content) < size
    return content + b"\n" * (size - len(content))


async def test_a_hostile_library_gets_nothing_outside_it(
    bus: tuple[Client, JetStreamContext], scheduler: Scheduler, nats_url: str, hostile: Library
) -> None:
    _, js = bus
    lib = hostile
    found = Findings()
    sources: dict[int, tuple[Path, MediaProbe, str]] = {}  # job → the original, its probe, its digest

    def planned(job_id: int, source: Path, request: Transcode | None = None) -> Transcode:
        request = request or work(source, job_id=job_id)
        sources[job_id] = (source, request.probe, library.sha256(source))
        return request

    async def finished(job_id: int) -> JobReport:
        report = await outcome(scheduler, job_id)
        return report

    # Outside: a file for every planted symlink that points at an existing one, a place for every dangling
    # one, files to read into an output (one per list, so that what got through is told apart), and a
    # folder that looks like the library's.
    secrets_outside = {}
    for name in ("after-scan", "concat", "hls"):
        secrets_outside[name] = lib.outside / f"secret-{name}.mp4"
        shutil.copyfile(lib.clips["mp4"], secrets_outside[name])
    place = lib.outside / "place"
    place.mkdir()

    # 1, 2. Symlinks at every temporary name: the old ones (job, attempt, delivery, stem) and the very
    # tokens the encoder will draw, each to a file outside (existing, or to be created by an open).
    guesses: dict[int, list[tuple[Path, Path]]] = {}
    drawn: dict[int, list[str]] = {}
    for job_id, clip, name in ((11, "mp4", "Film A.mp4"), (12, "avi", "Film B.avi")):
        source = lib.film(name.removesuffix(Path(name).suffix), name, clip)
        suffix = ".mp4" if clip == "mp4" else ".mkv"
        names = [
            f"{replace.TEMP_PREFIX}{job_id}-{attempt}-{delivery}-{source.stem}{suffix}"
            for attempt in (1, 2)
            for delivery in (1, 2, 3)
        ]
        drawn[job_id] = [f"guess{job_id}-{n}" for n in range(3)]
        names += [replace.temp_name(job_id, token, source.stem, suffix) for token in drawn[job_id]]
        planted = []
        for n, temp in enumerate(names):
            target = lib.outside / f"job{job_id}-{'victim' if n % 2 else 'new'}-{n}"
            if n % 2:
                target.write_bytes(b"someone else's file")
            (source.parent / temp).symlink_to(target)
            planted.append((source.parent / temp, target))
            found.tried(f"temporary names ({clip})", f"symlink at {temp} to {target.name}", target)
        guesses[job_id] = planted

    # 3, 4. The final name (the AVI becomes MKV) planted as a symlink to a tempting file outside: the job's
    # own verified output as far as its tag and streams go; and to nothing yet.
    lure_source = lib.film("Film C", "Film C.avi", "avi")
    lure = outside_lure(lib, lure_source, 13)
    (lure_source.parent / "Film C.mkv").symlink_to(lure)
    found.tried("final name planted", "Film C.mkv: symlink to a tagged, verifiable output outside", lure)
    dangling_source = lib.film("Film D", "Film D.avi", "avi")
    created = lib.outside / "created-at-final.mkv"
    (dangling_source.parent / "Film D.mkv").symlink_to(created)
    found.tried("final name planted", "Film D.mkv: symlink to a name outside, to be created", created)

    # 5, 6. The folder renamed and a symlink to a look-alike folder outside put in its place: before the
    # replace, and right after its last check.
    for title in ("Film E", "Film F"):
        lib.film(title, f"{title}.mp4", "mp4")
        shutil.copyfile(lib.clips["mp4"], place / f"{title}.mp4")
        found.tried(f"folder swapped ({title})", f"{title}/ swapped for a symlink to a folder outside", place)

    def swap_folder(title: str) -> Callable[[], None]:
        def swap() -> None:
            (lib.root / title).rename(lib.root / f"{title}.moved")
            (lib.root / title).symlink_to(place)

        return swap

    lib.before_commit[15] = swap_folder("Film E")
    lib.after_last_check[lib.root / "Film F"] = swap_folder("Film F")

    # 7. The original swapped for a symlink to a file outside, between plan and replace.
    victim = lib.outside / "victim.mp4"
    shutil.copyfile(lib.clips["mp4"], victim)
    swapped_source = lib.film("Film G", "Film G.mp4", "mp4")

    def swap_source() -> None:
        swapped_source.rename(swapped_source.with_name("Film G.kept.mp4"))
        swapped_source.symlink_to(victim)

    lib.before_commit[17] = swap_source
    found.tried("original swapped", "Film G.mp4 swapped for a symlink to a file outside", victim)

    # 8. The output swapped for a symlink to a file outside, between plan and replace (a chmod or chown by
    # name would change that file; a rename by name would put the symlink in the library).
    watched_output = lib.film("Film H", "Film H.mp4", "mp4")
    output_victim = lib.outside / "output-victim.mp4"
    shutil.copyfile(lib.clips["mp4"], output_victim)
    os.chmod(output_victim, 0o600)

    def swap_output() -> None:
        (temp,) = watched_output.parent.glob(f"{replace.TEMP_PREFIX}18-*")
        temp.rename(temp.with_name("taken.mp4"))
        temp.symlink_to(output_victim)

    lib.before_commit[18] = swap_output
    found.tried("output swapped", "the output swapped for a symlink to a file outside", output_victim)

    # 9. Names that look like options, or break quoting and lines.
    odd_names = ["-i.mkv", "a'b\".mkv", "x\ny.mkv", "concat:x.mkv"]
    for name in odd_names:
        lib.film("Names", name, "mkv")
        found.tried("names", f"a file named {name!r}")

    # 10. A concat list swapped in after the scan, its size, inode and date kept: it names a symlink
    # beside it to a file outside.
    listed = lib.film("Film I", "Film I.mkv", "mkv")
    secret = secrets_outside["after-scan"]
    (listed.parent / "clip.mp4").symlink_to(secret)
    found.tried("list after the scan", "Film I.mkv rewritten as a concat list, identity kept", secret)

    # 11. Lists of files as an older scanner reported them (before it refused them).
    concat = lib.root / "Film J" / "Film J.mkv"
    concat.parent.mkdir()
    (concat.parent / "clip.mp4").symlink_to(secrets_outside["concat"])
    concat.write_text("ffconcat version 1.0\nfile 'clip.mp4'\n")
    playlist = lib.root / "Film K" / "Film K.mp4"
    playlist.parent.mkdir()
    playlist.write_text(
        f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{secrets_outside['hls']}\n#EXT-X-ENDLIST\n"
    )
    found.tried(
        "lists as reported", "Film J.mkv: a concat list reported as concat", secrets_outside["concat"]
    )
    found.tried("lists as reported", "Film K.mp4: an HLS playlist reported as hls", secrets_outside["hls"])
    secret_probe = probe(lib.clips["mp4"])

    def reported_as(path: Path, job_id: int, container: str) -> Transcode:
        identity = replace.identity(os.stat(path))
        fake = msgspec.structs.replace(secret_probe, container=container)
        return Transcode(job_id=job_id, attempt=1, path=str(path), identity=identity, probe=fake)

    # 12. A hard link made to the original between plan and replace (a download client picked it up, or
    # someone wants the library's old data kept alive past the replace): the original is kept.
    linked_source = lib.film("Film L", "Film L.mp4", "mp4")
    second_name = lib.root / "Film L" / "Film L (seeding).mp4"
    lib.before_commit[26] = lambda: os.link(linked_source, second_name)
    found.tried("hard link made", "Film L.mp4 hard-linked under a second name during the job")

    await transcode.put(js, transcode.fastest())
    with Outside(lib.outside) as outside:
        async with running_encoder(node_settings(nats_url, lib.root, "node-h")):
            # 1, 2: every planted name left alone; the job done with a name nobody could plant.
            for job_id in (11, 12):
                source = lib.root / ("Film A/Film A.mp4" if job_id == 11 else "Film B/Film B.avi")
                lib.drawn[:] = drawn[job_id]
                await publish(js, planned(job_id, source), CPU)
                done = await finished(job_id)
                found.expect(isinstance(done, JobCompleted), f"job {job_id}: {done}")
                found.expect(not lib.drawn, f"job {job_id} did not draw the planted tokens first")
                final = source.with_suffix(".mp4" if job_id == 11 else ".mkv")
                if not is_verified_output(final, sources[job_id][1]):
                    found.lost(
                        f"temporary names ({source.suffix[1:]})", f"{final.name} is no verified output"
                    )
                found.expect(final == source or not source.exists(), f"{source.name} left beside its output")
                for link, target in guesses[job_id]:
                    found.expect(link.is_symlink() and link.readlink() == target, f"{link.name} changed")
                found.settle(f"temporary names ({source.suffix[1:]})", outside)

            # 3, 4: refused; the originals stay; the lure is not even opened.
            for job_id, source in ((13, lure_source), (14, dangling_source)):
                await publish(js, planned(job_id, source), CPU)
                failed = await finished(job_id)
                found.expect(
                    isinstance(failed, JobFailed) and "already exists" in failed.reason,
                    f"job {job_id}: {failed}",
                )
                if library.sha256(source) != sources[job_id][2]:
                    found.lost("final name planted", f"{source.name} changed")
                found.expect(source.with_suffix(".mkv").is_symlink(), f"{source.stem}.mkv was replaced")
            found.settle("final name planted", outside)

            # 5: the folder moved before the replace: refused, the original kept where it went.
            await publish(js, planned(15, lib.root / "Film E" / "Film E.mp4"), CPU)
            failed = await finished(15)
            found.expect(isinstance(failed, JobFailed) and "moved" in failed.reason, f"job 15: {failed}")
            moved = lib.root / "Film E.moved"
            if library.sha256(moved / "Film E.mp4") != sources[15][2]:
                found.lost("folder swapped (Film E)", "Film E.mp4 changed")
            found.expect([p.name for p in moved.iterdir()] == ["Film E.mp4"], "Film E: leftovers")
            found.settle("folder swapped (Film E)", outside)

            # 6: the folder moved right after its last check: the replace stays in the folder opened.
            await publish(js, planned(16, lib.root / "Film F" / "Film F.mp4"), CPU)
            done = await finished(16)
            found.expect(isinstance(done, JobCompleted), f"job 16: {done}")
            if not is_verified_output(lib.root / "Film F.moved" / "Film F.mp4", sources[16][1]):
                found.lost("folder swapped (Film F)", "Film F.mp4 is no verified output")
            found.settle("folder swapped (Film F)", outside)

            # 7: the original swapped: this output is discarded (as when another attempt replaced it).
            await publish(js, planned(17, swapped_source), CPU)
            await handled(js, topology.WORK_CONSUMERS[HwClass.CPU], timeout=120)
            found.expect(not [e for e in scheduler.events if e.job_id == 17 and isinstance(e, JobCompleted)],
                         "job 17 completed")  # fmt: skip
            if library.sha256(swapped_source.with_name("Film G.kept.mp4")) != sources[17][2]:
                found.lost("original swapped", "Film G changed")
            found.expect(swapped_source.is_symlink() and swapped_source.readlink() == victim, "Film G.mp4")
            found.expect(not list(swapped_source.parent.glob(".tmp_*")), "Film G: leftovers")
            found.settle("original swapped", outside)

            # 8: the output swapped: refused, the original kept, the planted symlink left as it is.
            await publish(js, planned(18, watched_output), CPU)
            failed = await finished(18)
            found.expect(
                isinstance(failed, JobFailed) and "not the output" in failed.reason, f"job 18: {failed}"
            )
            if library.sha256(watched_output) != sources[18][2]:
                found.lost("output swapped", "Film H.mp4 changed")
            found.settle("output swapped", outside)

            # 9: odd names are transcoded like any other.
            for job_id, name in enumerate(odd_names, start=19):
                source = lib.root / "Names" / name
                await publish(js, planned(job_id, source), CPU)
                done = await finished(job_id)
                found.expect(isinstance(done, JobCompleted), f"job {job_id} ({name!r}): {done}")
                if not is_verified_output(source, sources[job_id][1]):
                    found.lost("names", f"{name!r} is no verified output")
            found.settle("names", outside)

            # 10: read as the Matroska the scan found, the list is no video: nothing it names is opened.
            request = planned(23, listed)
            st = os.stat(listed)
            listed.write_bytes(padded_list("ffconcat version 1.0\nfile 'clip.mp4'\n", st.st_size))
            os.utime(listed, ns=(st.st_atime_ns, st.st_mtime_ns))
            found.expect(replace.identity(os.stat(listed)) == request.identity, "Film I: identity not kept")
            crafted = library.sha256(listed)
            await publish(js, request, CPU)
            failed = await finished(23)
            found.expect(isinstance(failed, JobFailed), f"job 23: {failed}")
            found.expect(library.sha256(listed) == crafted, "Film I.mkv changed")
            found.settle("list after the scan", outside)

            # 11: whatever the report says the file is, only our demuxers read it.
            for job_id, path, container in ((24, concat, "concat"), (25, playlist, "hls")):
                await publish(js, planned(job_id, path, reported_as(path, job_id, container)), CPU)
                failed = await finished(job_id)
                found.expect(isinstance(failed, JobFailed), f"job {job_id}: {failed}")
                if library.sha256(path) != sources[job_id][2]:
                    found.lost("lists as reported", f"{path.name} changed")
            found.settle("lists as reported", outside)

            # 12: the link is seen on the opened original just before the replace: skipped, both names
            # still the original, nothing of ours left.
            await publish(js, planned(26, linked_source), CPU)
            skipped = await finished(26)
            found.expect(
                isinstance(skipped, JobSkipped) and skipped.reason.startswith("hard-linked: 2 links"),
                f"job 26: {skipped}",
            )
            if library.sha256(linked_source) != sources[26][2] or not second_name.samefile(linked_source):
                found.lost("hard link made", "Film L.mp4 changed")
            found.expect(not list(linked_source.parent.glob(".tmp_*")), "Film L: leftovers")
            found.settle("hard link made", outside)

    summary = found.summary()
    SUMMARY.parent.mkdir(parents=True, exist_ok=True)
    SUMMARY.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"hostile library: {summary['tried']} attacks tried, {summary['got_through']} got through")
    assert summary["got_through"] == 0, json.dumps(summary, indent=2)
    assert found.wrong == []
