"""The recycle folder's round trip on real files: the original kept as the output takes its place, listed,
restored over the output (and over a changed container's output), expired; against someone who plants
symlinks at the folder's name or inside it, or swaps the output before a restore; and with the process
killed outright at the worst moments of keeping and restoring."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import msgspec
import pytest
from librarrarian_contracts import FileIdentity
from librarrarian_encoder import replace
from librarrarian_encoder.folder import Folder
from librarrarian_runtime import failpoints, recycle
from librarrarian_testing.outside import Outside

ORIGINAL = b"the original, as the user had it"
OUTPUT = b"the output"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "media" / "Film").mkdir(parents=True)
    return (tmp_path / "media").resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Outside]:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim").write_bytes(b"a file of someone else's")
    with Outside(folder) as watched:
        yield watched


def put(root: Path, name: str = "Film.mp4") -> Path:
    path = root / "Film" / name
    path.write_bytes(ORIGINAL)
    return path


def transcode(root: Path, source: Path, suffix: str, job_id: int = 7) -> str | None:
    """Replace ``source`` by an output of ``suffix`` keeping the original; the recycle entry made."""
    with Folder.open(source.parent, (root,)) as folder:
        output = replace.create_output(folder, job_id, source.stem, suffix)
        os.write(output.fd, OUTPUT)
        final = replace.final_path(source, suffix)
        made: list[str] = []

        def keep(fd: int, name: str, st: os.stat_result, final_name: str, out: FileIdentity) -> str:
            entry = recycle.keep(
                root,
                fd,
                name,
                st,
                job_id=job_id,
                path=str(source),
                relative=PurePosixPath(source.relative_to(root)),
                final=final_name,
                output=out,
            )
            made.append(entry)
            return entry

        expected = replace.identity(os.stat(source))
        try:
            replace.replace(folder, source.name, output, final.name, expected, keep=keep)
        finally:
            replace.discard(folder, output)
    return made[0] if made else None


def recycled(root: Path) -> set[str]:
    return set(os.listdir(root / recycle.FOLDER))


def test_round_trip_replace_list_restore(root: Path) -> None:
    source = put(root)
    entry = transcode(root, source, ".mp4")
    assert source.read_bytes() == OUTPUT
    assert entry is not None
    assert (root / recycle.FOLDER / entry).read_bytes() == ORIGINAL
    assert os.stat(root / recycle.FOLDER).st_mode & 0o777 == 0o700
    [listed] = recycle.entries((root,))
    assert (listed.name, listed.record.job_id, listed.record.relative) == (entry, 7, "Film/Film.mp4")
    assert recycle.held((root,)) == len(ORIGINAL)
    recycle.restore(root, recycle.find((root,), 7).name)
    assert source.read_bytes() == ORIGINAL
    assert recycled(root) == set()
    assert recycle.held((root,)) == 0


def test_round_trip_across_a_container_change(root: Path) -> None:
    source = put(root, "Film.avi")
    entry = transcode(root, source, ".mkv")
    assert not source.exists() and (root / "Film" / "Film.mkv").read_bytes() == OUTPUT
    assert entry is not None
    record = recycle.restore(root, entry)
    assert record.final == "Film/Film.mkv"
    assert source.read_bytes() == ORIGINAL
    assert not (root / "Film" / "Film.mkv").exists()
    assert recycled(root) == set()


def test_expiry_removes_old_entries_only_and_follows_no_symlink(root: Path, outside: Outside) -> None:
    entry = transcode(root, put(root), ".mp4")
    assert entry is not None
    (root / recycle.FOLDER / "planted").symlink_to(outside.root / "victim")
    assert recycle.expire((root,), 7, time.time() + 6 * recycle.DAY) == []
    removed = recycle.expire((root,), 7, time.time() + 8 * recycle.DAY)
    assert sorted(Path(p).name for p in removed) == sorted([entry, f"{entry}.json"])
    assert recycled(root) == {"planted"}  # a symlink is neither followed nor removed
    assert outside.touched() == []  # the victim's content and mode included


@pytest.mark.parametrize("planted", ["symlink", "foreign"])
def test_a_planted_recycle_folder_keeps_the_original_in_place(
    root: Path, outside: Outside, planted: str
) -> None:
    if planted == "symlink":
        (root / recycle.FOLDER).symlink_to(outside.root)
    else:
        (root / recycle.FOLDER).mkdir(mode=0o777)
        os.chmod(root / recycle.FOLDER, 0o777)  # anyone may put things in it: not ours to trust
    source = put(root)
    with pytest.raises(replace.NotKept):
        transcode(root, source, ".mp4")
    assert source.read_bytes() == ORIGINAL  # not replaced, since it could not be kept
    assert os.listdir(root / "Film") == ["Film.mp4"]  # the output discarded
    assert outside.touched() == []


def test_a_file_swapped_in_before_restore_is_not_overwritten(root: Path) -> None:
    source = put(root)
    entry = transcode(root, source, ".mp4")
    assert entry is not None
    source.unlink()
    source.write_bytes(b"the user's own new version")
    with pytest.raises(recycle.Refused, match="changed since"):
        recycle.restore(root, entry)
    assert source.read_bytes() == b"the user's own new version"
    assert (root / recycle.FOLDER / entry).read_bytes() == ORIGINAL


def test_a_kept_original_swapped_for_a_symlink_is_not_restored(root: Path, outside: Outside) -> None:
    source = put(root)
    entry = transcode(root, source, ".mp4")
    assert entry is not None
    (root / recycle.FOLDER / entry).unlink()
    (root / recycle.FOLDER / entry).symlink_to(outside.root / "victim")
    with pytest.raises(recycle.Refused):
        recycle.restore(root, entry)
    assert source.read_bytes() == OUTPUT
    assert outside.touched() == []


def test_a_folder_on_the_way_swapped_for_a_symlink_is_not_followed(root: Path, outside: Outside) -> None:
    source = put(root)
    entry = transcode(root, source, ".mp4")
    assert entry is not None
    os.rename(root / "Film", root / "Moved")
    (root / "Film").symlink_to(outside.root)
    with pytest.raises(recycle.Refused):
        recycle.restore(root, entry)
    assert (root / recycle.FOLDER / entry).read_bytes() == ORIGINAL
    assert outside.touched() == []


KILLED_REPLACE = """
import os, sys
from pathlib import Path
sys.path.insert(0, {tests!r})
import test_recycle
test_recycle.transcode(Path({root!r}), Path({source!r}), {suffix!r})
"""

KILLED_RESTORE = """
from pathlib import Path
from librarrarian_runtime import recycle
recycle.restore(Path({root!r}), {entry!r})
"""


def killed_at(point: str, script: str) -> None:
    env = {**os.environ, failpoints.VARIABLE: point}
    done = subprocess.run([sys.executable, "-c", script], env=env, check=False, timeout=60)
    assert done.returncode == -9, f"the process was not killed at {point}"


def test_killed_after_keeping_the_original_it_is_still_in_place(root: Path) -> None:
    source = put(root)
    script = KILLED_REPLACE.format(
        tests=str(Path(__file__).parent), root=str(root), source=str(source), suffix=".mp4"
    )
    killed_at("after-recycle", script)
    assert source.read_bytes() == ORIGINAL
    assert os.stat(source).st_nlink == 2  # and its second name in the recycle folder
    # The job's next attempt: the earlier entry is dropped, so the file is not taken for a hard-linked one.
    with Folder.open(source.parent, (root,)) as folder:
        assert recycle.forget_earlier(root, 7, os.stat(source), folder.fd) == 0
    assert os.stat(source).st_nlink == 1
    assert recycled(root) == set()


def test_killed_after_a_container_changes_output_took_its_name_the_kept_original_stays(root: Path) -> None:
    source = put(root, "Film.avi")
    script = KILLED_REPLACE.format(
        tests=str(Path(__file__).parent), root=str(root), source=str(source), suffix=".mkv"
    )
    killed_at("after-rename", script)
    assert source.read_bytes() == ORIGINAL and (root / "Film" / "Film.mkv").read_bytes() == OUTPUT
    # The next attempt finishes the swap: the kept original is that replace's, not a second name to drop.
    with Folder.open(source.parent, (root,)) as folder:
        assert recycle.forget_earlier(root, 7, os.stat(source), folder.fd) == 1
    assert os.stat(source).st_nlink == 2


def test_killed_after_a_same_name_rename_the_entry_proves_the_replace(root: Path) -> None:
    source = put(root)
    planned = replace.identity(os.stat(source))
    script = KILLED_REPLACE.format(
        tests=str(Path(__file__).parent), root=str(root), source=str(source), suffix=".mp4"
    )
    killed_at("after-rename", script)
    assert source.read_bytes() == OUTPUT  # the output took the name; nothing reported it yet
    relative = PurePosixPath("Film/Film.mp4")
    [entry] = [name for name in recycled(root) if not name.endswith(recycle.SIDECAR)]
    assert (root / recycle.FOLDER / entry).read_bytes() == ORIGINAL
    found = recycle.replaced_earlier(root, 7, planned, relative, os.stat(source), "Film.mp4")
    assert found == str(root / recycle.FOLDER / entry)
    # Only for that job, that original, and the very output recorded.
    assert recycle.replaced_earlier(root, 8, planned, relative, os.stat(source), "Film.mp4") is None
    other = msgspec.structs.replace(planned, size=planned.size + 1)
    assert recycle.replaced_earlier(root, 7, other, relative, os.stat(source), "Film.mp4") is None
    # Someone swaps another file in under the name: it is not taken for the output.
    swapped = source.with_name("swap")
    swapped.write_bytes(OUTPUT)
    os.replace(swapped, source)
    assert recycle.replaced_earlier(root, 7, planned, relative, os.stat(source), "Film.mp4") is None
    # And a symlink to the kept original's data is not it either.
    source.unlink()
    source.symlink_to(root / recycle.FOLDER / entry)
    assert recycle.replaced_earlier(root, 7, planned, relative, os.lstat(source), "Film.mp4") is None


@pytest.mark.parametrize(
    ("suffix", "point"),
    [
        (".mp4", "restore-output-kept"),
        (".mp4", "restore-after-rename"),  # a same-name restore is one rename: no link step
        (".mkv", "restore-output-kept"),
        (".mkv", "restore-after-link"),
        (".mkv", "restore-after-rename"),
    ],
)
def test_killed_while_restoring_both_files_survive(root: Path, suffix: str, point: str) -> None:
    source = put(root, "Film.avi" if suffix == ".mkv" else "Film.mp4")
    entry = transcode(root, source, suffix)
    assert entry is not None
    final = root / "Film" / f"Film{suffix}"
    killed_at(point, KILLED_RESTORE.format(root=str(root), entry=entry))
    names = {p.read_bytes() for p in (source, final) if p.exists()}
    names |= {(root / recycle.FOLDER / n).read_bytes() for n in recycled(root) if not n.endswith(".json")}
    assert {ORIGINAL, OUTPUT} <= names  # each under its name or kept in the recycle folder
    assert source.exists() or final.exists()
    recycle.restore(root, entry)  # asked again: it finishes
    assert source.read_bytes() == ORIGINAL
    assert suffix == ".mp4" or not final.exists()
    assert recycled(root) == set()
