"""The replace's steps on real files, each against someone who controls the folder: names planted where the
output is created, the output or the original swapped, the folder itself moved and swapped for a symlink
(also right after its last check). Nothing outside the folder is touched, and the original is never lost."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from librarrarian_encoder import replace
from librarrarian_encoder.folder import Folder, NotAFile, Redirected
from librarrarian_testing.outside import Outside


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "media" / "Film").mkdir(parents=True)
    return (tmp_path / "media").resolve()


@pytest.fixture
def outside(tmp_path: Path) -> Iterator[Outside]:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "victim").write_bytes(b"a file of someone else's")
    os.chmod(folder / "victim", 0o600)
    (folder / "place").mkdir()
    (folder / "place" / "Film.mp4").write_bytes(b"a decoy")
    with Outside(folder) as watched:
        yield watched


@pytest.fixture
def original(root: Path) -> Path:
    path = root / "Film" / "Film.mp4"
    path.write_bytes(b"the original")
    os.chmod(path, 0o644)
    return path


def opened(path: Path, root: Path) -> Folder:
    return Folder.open(path.parent, (root,))


def tokens(monkeypatch: pytest.MonkeyPatch, *drawn: str) -> None:
    """The temporary output's tokens are ``drawn``, in that order: the names an attacker would have to
    guess, known to the test."""
    supply = iter(drawn)
    monkeypatch.setattr(replace, "new_token", lambda: next(supply))


def test_names_taken_first_are_left_alone_and_another_drawn(
    original: Path, root: Path, outside: Outside, monkeypatch: pytest.MonkeyPatch
) -> None:
    tokens(monkeypatch, "a", "b", "c", "d")
    folder = original.parent
    planted = {
        "a": outside.root / "victim",  # an existing file
        "b": outside.root / "created-by-us",  # nothing yet: an open would create it
        "c": None,  # a plain file of someone else's
    }
    for token, target in planted.items():
        name = folder / replace.temp_name(1, token, "Film", ".mp4")
        if target is None:
            name.write_bytes(b"not ours")
        else:
            name.symlink_to(target)
    with opened(original, root) as held:
        output = replace.create_output(held, 1, "Film", ".mp4")
        assert output.name == replace.temp_name(1, "d", "Film", ".mp4")
        os.write(output.fd, b"the output")
        os.close(output.fd)
    assert (folder / output.name).read_bytes() == b"the output"
    assert os.stat(folder / output.name).st_mode & 0o777 == 0o600  # ours alone until it takes its place
    assert (folder / replace.temp_name(1, "c", "Film", ".mp4")).read_bytes() == b"not ours"
    for token in ("a", "b"):
        assert (folder / replace.temp_name(1, token, "Film", ".mp4")).is_symlink()
    assert outside.touched() == []


def test_with_every_name_taken_nothing_is_created(
    original: Path, root: Path, outside: Outside, monkeypatch: pytest.MonkeyPatch
) -> None:
    drawn = [str(n) for n in range(replace.CREATE_TRIES)]
    tokens(monkeypatch, *drawn)
    for token in drawn:
        (original.parent / replace.temp_name(1, token, "Film", ".mp4")).symlink_to(outside.root / token)
    with opened(original, root) as held, pytest.raises(FileExistsError, match="no free name"):
        replace.create_output(held, 1, "Film", ".mp4")
    assert outside.touched() == []


def test_a_long_name_is_shortened_to_fit() -> None:
    stem = "é" * 200  # 400 bytes
    name = replace.temp_name(123456, replace.new_token(), stem, ".mkv")
    assert len(os.fsencode(name)) <= 255 and name.startswith(replace.TEMP_PREFIX) and name.endswith(".mkv")


def test_a_symlink_on_the_way_is_not_followed(root: Path, outside: Outside) -> None:
    (root / "Film").rename(root / "Film.moved")
    (root / "Film").symlink_to(outside.root / "place")
    with pytest.raises(Redirected, match="not a folder"):
        Folder.open(root / "Film", (root,))
    with pytest.raises(FileNotFoundError):
        Folder.open(root / "Gone", (root,))
    assert outside.touched() == []


def test_only_a_regular_file_is_opened(original: Path, root: Path, outside: Outside) -> None:
    folder = original.parent
    (folder / "link.mp4").symlink_to(outside.root / "victim")
    os.mkfifo(folder / "fifo.mp4")  # an open to read would wait for a writer forever
    with opened(original, root) as held:
        with pytest.raises(OSError) as refused:
            held.open_file("link.mp4")
        assert refused.value.errno == errno.ELOOP
        with pytest.raises(NotAFile):
            held.open_file("fifo.mp4")
        os.close(held.open_file("Film.mp4"))
    assert outside.touched() == []


def made_output(held: Folder, content: bytes = b"the verified output") -> replace.Output:
    output = replace.create_output(held, 1, "Film", ".mp4")
    os.write(output.fd, content)
    return output


def test_the_output_takes_the_originals_place_and_permissions(original: Path, root: Path) -> None:
    with opened(original, root) as held:
        output = made_output(held)
        replace.replace(held, "Film.mp4", output, "Film.mp4", replace.identity(os.stat(original)))
        replace.discard(held, output)  # the name is gone: nothing to remove, the descriptor closed
    assert original.read_bytes() == b"the verified output"
    assert os.stat(original).st_mode & 0o7777 == 0o644
    assert [p.name for p in original.parent.iterdir()] == ["Film.mp4"]


def test_an_output_swapped_under_us_is_not_put_in_place(original: Path, root: Path, outside: Outside) -> None:
    expected = replace.identity(os.stat(original))
    with opened(original, root) as held:
        output = made_output(held)
        name = original.parent / output.name
        name.rename(original.parent / "stolen.mp4")
        name.symlink_to(outside.root / "victim")  # chmod and chown by name would change the victim
        with pytest.raises(replace.OutputMoved):
            replace.replace(held, "Film.mp4", output, "Film.mp4", expected)
        replace.discard(held, output)
    assert original.read_bytes() == b"the original"
    assert name.is_symlink()  # not ours to delete
    assert outside.touched() == []


def test_a_folder_moved_during_the_job_keeps_the_original(
    original: Path, root: Path, outside: Outside
) -> None:
    expected = replace.identity(os.stat(original))
    with opened(original, root) as held:
        output = made_output(held)
        (root / "Film").rename(root / "Film.moved")
        (root / "Film").symlink_to(outside.root / "place")
        with pytest.raises(Redirected, match="moved or replaced"):
            replace.replace(held, "Film.mp4", output, "Film.mp4", expected)
        replace.discard(held, output)
    assert (root / "Film.moved" / "Film.mp4").read_bytes() == b"the original"
    assert [p.name for p in (root / "Film.moved").iterdir()] == ["Film.mp4"]
    assert outside.touched() == []


def test_a_folder_swapped_right_after_its_last_check_does_not_redirect_the_rename(
    original: Path, root: Path, outside: Outside, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = replace.identity(os.stat(original))
    checked = Folder.still_reached

    def swapped_once_checked(self: Folder) -> bool:
        reached = checked(self)
        (root / "Film").rename(root / "Film.moved")
        (root / "Film").symlink_to(outside.root / "place")
        return reached

    with opened(original, root) as held:
        output = made_output(held)
        monkeypatch.setattr(Folder, "still_reached", swapped_once_checked)
        replace.replace(held, "Film.mp4", output, "Film.mp4", expected)
        replace.discard(held, output)
    assert (root / "Film.moved" / "Film.mp4").read_bytes() == b"the verified output"
    assert outside.touched() == []


def test_an_original_changed_between_the_rename_and_the_unlink_is_kept(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = root / "Film" / "Film.avi"
    source.write_bytes(b"the original")
    expected = replace.identity(os.stat(source))
    renamed = Folder.rename

    def then_changed(self: Folder, old: str, new: str) -> None:
        renamed(self, old, new)
        with source.open("ab") as handle:
            handle.write(b", edited")

    monkeypatch.setattr(Folder, "rename", then_changed)
    with opened(source, root) as held:
        output = made_output(held)
        with pytest.raises(replace.BothKept):
            replace.replace(held, "Film.avi", output, "Film.mkv", expected)
        replace.discard(held, output)
    assert source.read_bytes() == b"the original, edited"
    assert (root / "Film" / "Film.mkv").read_bytes() == b"the verified output"


def test_permissions_are_set_on_the_file_opened(original: Path, root: Path, outside: Outside) -> None:
    os.chmod(original, 0o6755)  # set-user-ID and set-group-ID: not carried over
    with opened(original, root) as held:
        output = made_output(held)
        replace.adopt_permissions(output.fd, os.stat(original))
        assert os.fstat(output.fd).st_mode & 0o7777 == 0o755
        replace.discard(held, output)
    assert outside.touched() == []


def test_discard_removes_only_what_is_still_ours(original: Path, root: Path) -> None:
    with opened(original, root) as held:
        ours, swapped = made_output(held), made_output(held)
        (original.parent / swapped.name).unlink()
        (original.parent / swapped.name).write_bytes(b"someone else's")
        for output in (ours, swapped):
            replace.discard(held, output)
    left = sorted(p.name for p in original.parent.iterdir())
    assert left == sorted(["Film.mp4", swapped.name])
    assert (original.parent / swapped.name).read_bytes() == b"someone else's"
