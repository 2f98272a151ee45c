"""Finding stale files and deleting an approved one, on real directories: what is found, what is never
touched (videos, young files, symlinks, paths outside the media paths), and what a deletion re-checks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from librarrarian_cleanup import finder, remover
from librarrarian_contracts import FileIdentity
from librarrarian_testing.files import DAY, aged


def identity(path: Path) -> FileIdentity:
    st = path.lstat()
    return FileIdentity(size=st.st_size, mtime_ns=st.st_mtime_ns, inode=st.st_ino)


@pytest.fixture
def media(tmp_path: Path) -> Path:
    root = (tmp_path / "media").resolve()
    show = root / "Show" / "Season 01"
    aged(show / "Episode 1.mkv", 30)  # a video, however old, is never stale
    aged(show / ".tmp_librarrarian-Episode 1.mkv", 3)  # an encode's output a crash left behind
    aged(show / "Episode 2.mkv.lock", 2)  # a downloader's lock nobody removed
    aged(show / ".tmp_fresh.mkv", 0.1)  # an encode running now
    aged(root / ".tmp_hidden" / "Movie.mkv", 5)  # a video inside a folder named like a temp file
    aged(root / ".librarrarian-recycle" / ".tmp_kept.mkv", 9)  # kept originals: their own expiry rule
    outside = aged(tmp_path / "elsewhere" / ".tmp_secret", 9)
    (show / ".tmp_link").symlink_to(outside)
    (root / "linked").symlink_to(outside.parent, target_is_directory=True)
    (root / "alias").symlink_to(show, target_is_directory=True)
    return root


def test_finds_old_temporary_and_lock_files_only(media: Path) -> None:
    found = {s.path.relative_to(media).as_posix(): s.why for s in finder.find((media,), DAY, time.time())}
    assert found == {
        "Show/Season 01/.tmp_librarrarian-Episode 1.mkv": "temporary file untouched for 3 days",
        "Show/Season 01/Episode 2.mkv.lock": "lock file untouched for 2 days",
    }


def test_an_unreadable_folder_is_reported_and_the_rest_still_found(media: Path) -> None:
    missing = media / "Gone"
    problems: list[Path] = []
    found = list(finder.find((media, missing), DAY, time.time(), lambda d, _e: problems.append(d)))
    assert problems == [missing] and len(found) == 2


def test_removes_the_approved_file_and_nothing_else(media: Path) -> None:
    stale = media / "Show" / "Season 01" / ".tmp_librarrarian-Episode 1.mkv"
    before = sorted(p.name for p in stale.parent.iterdir())
    outcome = remover.remove(str(stale), identity(stale), (media,), DAY, time.time())
    assert outcome == remover.Outcome(removed=True, size=100)
    assert sorted(p.name for p in stale.parent.iterdir()) == [n for n in before if n != stale.name]


def test_a_file_changed_since_it_was_found_is_kept(media: Path) -> None:
    stale = media / "Show" / "Season 01" / "Episode 2.mkv.lock"
    seen = identity(stale)
    aged(stale, 2, b"y" * 101)  # rewritten, still old
    outcome = remover.remove(str(stale), seen, (media,), DAY, time.time())
    assert outcome == remover.Outcome(removed=False, reason="changed since it was found: kept")
    assert stale.exists()


def test_a_file_touched_again_is_kept(media: Path) -> None:
    stale = media / "Show" / "Season 01" / "Episode 2.mkv.lock"
    outcome = remover.remove(str(stale), identity(stale), (media,), DAY, time.time() - 1.5 * DAY)
    assert outcome.removed is False and outcome.reason == "in use again: kept"
    assert stale.exists()


def test_a_file_already_gone_counts_as_removed(media: Path) -> None:
    stale = media / "Show" / "Season 01" / "Episode 2.mkv.lock"
    seen = identity(stale)
    stale.unlink()
    assert remover.remove(str(stale), seen, (media,), DAY, time.time()).reason == "already gone"


@pytest.mark.parametrize(
    ("relative", "refusal"),
    [
        ("Show/Season 01/Episode 1.mkv", "is not a temporary or lock file"),
        ("alias/Episode 2.mkv.lock", "leads elsewhere through a symlink"),
        ("linked/.tmp_secret", "outside the media paths"),
        ("../elsewhere/.tmp_secret", "outside the media paths"),
    ],
)
def test_refuses_what_the_cleanup_never_deletes(media: Path, relative: str, refusal: str) -> None:
    target = media / relative
    seen = identity(target)
    with pytest.raises(remover.Refused, match=refusal):
        remover.remove(str(target), seen, (media,), DAY, time.time())
    assert target.exists()


def test_a_symlink_named_like_a_temporary_file_is_kept(media: Path) -> None:
    link = media / "Show" / "Season 01" / ".tmp_link"
    outcome = remover.remove(str(link), identity(link), (media,), DAY, time.time())
    assert outcome == remover.Outcome(removed=False, reason="no longer a regular file: kept")
    assert link.is_symlink() and link.resolve().exists()
