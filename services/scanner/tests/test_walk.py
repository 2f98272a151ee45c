"""Which files a walk picks up, on real directory trees."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from librarrarian_scanner.walk import Found, identity_key, is_candidate, is_locked, library_of, walk
from librarrarian_testing import library


@pytest.mark.parametrize(
    "name",
    ["Movie.mkv", "movie.MP4", "Show S01E01.m2ts", "clip.webm", "old.DivX", "tape.vob", "a.ts", "x.3gp"],
)
def test_videos_are_candidates(name: str) -> None:
    assert is_candidate(name)


@pytest.mark.parametrize(
    "name",
    [
        ".tmp_Movie.mkv",  # our own output in progress
        ".hidden.mp4",
        "Movie.mkv.part",
        "Movie.mkv.partial",
        "Movie.mkv.tmp",
        "Movie.mp4.crdownload",
        "Movie.mkv.!qB",
        "Movie.mkv~",
        "Movie.temp.mkv",  # yt-dlp merging
        "poster.jpg",
        "Movie.srt",
        "Movie.en.ass",
        "movie.nfo",
        "Movie.mkv.lock",
        "song.mp3",
        "README",
    ],
)
def test_clutter_is_not(name: str) -> None:
    assert not is_candidate(name)


def test_a_lock_beside_a_file_by_name_or_by_stem() -> None:
    assert is_locked({"Movie.mkv", "Movie.mkv.lock"}, "Movie.mkv")
    assert is_locked({"Movie.mkv", "Movie.lock"}, "Movie.mkv")
    assert not is_locked({"Movie.mkv", "Other.lock"}, "Movie.mkv")


def test_the_library_of_a_file_is_the_most_specific_media_path(tmp_path: Path) -> None:
    outer, inner = tmp_path, tmp_path / "tv"
    assert library_of(inner / "show" / "a.mkv", (outer, inner)) == inner
    assert library_of(outer / "movie.mkv", (outer, inner)) == outer


def names(found: list[Found]) -> list[str]:
    return sorted(f.path.name for f in found)


def test_a_real_library_gives_its_videos_and_leaves_the_clutter(tmp_path: Path, shared_media: Path) -> None:
    lib = library.build(tmp_path / "media", shared_media)
    root = lib.root.resolve()
    movies = root / "Movies"
    (movies / "Extras").mkdir()
    shutil.copyfile(shared_media / "bikes.mp4", movies / "Extras" / "Trailer.MP4")
    shutil.copyfile(shared_media / "bikes.mp4", movies / "Held.mkv")
    (movies / "Held.lock").write_text("")
    (movies / "Movie.mkv.crdownload").write_bytes(b"...")
    (movies / "Movie.mkv.!qB").write_bytes(b"...")
    (movies / "Movie.mkv~").write_bytes(b"...")
    (movies / "movie.nfo").write_text("<movie/>")
    (root / ".trash").mkdir()
    shutil.copyfile(shared_media / "bikes.mp4", root / ".trash" / "Deleted.mkv")
    (movies / ".tmp_0123.mkv").write_bytes(b"...")
    os.mkfifo(movies / "pipe.mkv")

    found = list(walk((root,), (root,)))
    assert names(found) == [
        "Already HEVC.mkv",
        "Big Buck Bunny.mp4",
        "Bikes S01E01.mkv",
        "Bikes S01E02.avi",
        "Broken.mp4",
        "Trailer.MP4",
    ]
    bbb = next(f for f in found if f.path.name == "Big Buck Bunny.mp4")
    st = bbb.path.stat()
    assert (bbb.identity.size, bbb.identity.mtime_ns, bbb.identity.inode) == (
        st.st_size,
        st.st_mtime_ns,
        st.st_ino,
    )
    assert bbb.library == root and bbb.path.is_absolute()


def test_a_rescan_walk_yields_only_what_differs_from_the_index(tmp_path: Path, shared_media: Path) -> None:
    """With the index of a first walk, a second yields nothing while every file is still counted present; a
    changed file and a new one are yielded, and a file met again through a symlink is not yielded twice."""
    lib = library.build(tmp_path / "media", shared_media)
    root = lib.root.resolve()
    first = list(walk((root,), (root,)))
    index = {str(f.path): identity_key(f.identity) for f in first}

    present: set[str] = set()
    counts: list[int] = []
    assert list(walk((root,), (root,), known=index, present=present, counted=counts.append)) == []
    assert present == set(index) and counts[-1] == len(index)

    changed = next(f.path for f in first if f.path.name == "Big Buck Bunny.mp4")
    os.utime(changed, ns=(1_000_000_000, 1_000_000_000))
    shutil.copyfile(shared_media / "bikes.mp4", root / "Movies" / "New.mkv")
    (root / "Movies" / "Alias.mkv").symlink_to(changed)
    present = set()
    found = list(walk((root,), (root,), known=index, present=present))
    assert names(found) == ["Big Buck Bunny.mp4", "New.mkv"]
    assert present == {*index, str(root / "Movies" / "New.mkv")}


def test_symlinks_leading_outside_are_refused_and_inside_are_followed_once(
    tmp_path: Path, shared_media: Path
) -> None:
    media, outside = tmp_path / "media", tmp_path / "elsewhere"
    (media / "Movies").mkdir(parents=True)
    outside.mkdir()
    shutil.copyfile(shared_media / "bikes.mp4", outside / "secret.mp4")
    shutil.copyfile(shared_media / "bikes.mp4", media / "Movies" / "real.mp4")
    (media / "Movies" / "escape.mp4").symlink_to(outside / "secret.mp4")
    (media / "escape_dir").symlink_to(outside)
    (media / "Movies" / "alias.mp4").symlink_to(media / "Movies" / "real.mp4")
    (media / "Movies" / "loop").symlink_to(media)  # a loop back to the root
    (media / "Movies" / "a.mkv").symlink_to(media / "Movies" / "b.mkv")  # a file symlink loop
    (media / "Movies" / "b.mkv").symlink_to(media / "Movies" / "a.mkv")
    escapes: list[Path] = []
    root = media.resolve()

    found = list(walk((root,), (root,), on_escape=escapes.append))

    assert [f.path for f in found] == [root / "Movies" / "real.mp4"]
    assert sorted(p.name for p in escapes) == ["escape.mp4", "escape_dir"]


def test_a_directory_that_cannot_be_listed_is_reported(tmp_path: Path) -> None:
    unreadable: list[Path] = []
    missing = tmp_path / "unmounted"
    found = list(walk((missing,), (tmp_path,), on_unreadable=lambda d, e: unreadable.append(d)))
    assert found == [] and unreadable == [missing]
