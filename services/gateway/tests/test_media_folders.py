"""Browsing the media paths' folders (``/api/v1/media/folders``): subfolders by name, and nothing outside
the media paths listed or named, whether asked by ``..``, NUL, a symlink that leads out, or a path outside;
a real gateway and real folders and symlinks."""

from __future__ import annotations

import os
from pathlib import Path

from librarrarian_gateway import folder_tree

from .sites import Site


def library(media: Path, outside: Path) -> None:
    for folder in ("TV/Show", "Movies", "Music videos", ".hidden"):
        (media / folder).mkdir(parents=True, exist_ok=True)
    (media / "TV" / "episode.mkv").write_bytes(b"not a folder")
    (outside / "secret").mkdir(parents=True)
    (media / "Escape").symlink_to(outside)  # leads out: never listed, never followed
    (media / "Shortcut").symlink_to(media / "TV")  # stays inside: listed by where it leads
    (media / "Dangling").symlink_to(media / "gone")


def test_subfolders_are_listed_by_name_and_symlinks_only_where_they_stay_inside(tmp_path: Path) -> None:
    media, outside = (tmp_path / "media").resolve(), (tmp_path / "outside").resolve()
    library(media, outside)
    listing = folder_tree.subfolders(str(media), (media,))
    assert [(f.name, f.path) for f in listing.folders] == [
        ("Movies", str(media / "Movies")),
        ("Music videos", str(media / "Music videos")),
        ("Shortcut", str(media / "TV")),
        ("TV", str(media / "TV")),
    ]
    assert listing.path == str(media) and listing.parent is None and not listing.truncated
    inner = folder_tree.subfolders(str(media / "TV"), (media,))
    assert [f.name for f in inner.folders] == ["Show"] and inner.parent == str(media)


def test_a_listing_is_bounded(tmp_path: Path) -> None:
    media = (tmp_path / "media").resolve()
    for number in range(12):
        (media / f"f{number:02}").mkdir(parents=True)
    listing = folder_tree.subfolders(str(media), (media,), limit=5)
    assert len(listing.folders) == 5 and listing.truncated
    scanned = folder_tree.subfolders(str(media), (media,), scan_limit=3)
    assert len(scanned.folders) == 3 and scanned.truncated


async def test_the_route_lists_inside_the_media_paths_and_refuses_everything_else(
    gateway: Site, tmp_path: Path
) -> None:
    media = gateway.media.resolve()
    outside = (tmp_path / "outside").resolve()
    library(media, outside)
    route = "/api/v1/media/folders"
    async with gateway.client() as api, gateway.client(key=None) as anonymous:
        assert (await anonymous.get(route)).status_code == 401
        top = (await api.get(route)).json()
        assert top == {
            "path": None,
            "parent": None,
            "folders": [{"name": str(gateway.media), "path": str(gateway.media)}],
            "truncated": False,
        }
        listed = await api.get(route, params={"path": str(media)})
        assert listed.status_code == 200, listed.text
        names = [f["name"] for f in listed.json()["folders"]]
        assert "Escape" not in names and "Dangling" not in names and ".hidden" not in names
        assert "TV" in names

        refusals = {
            str(media / "Escape"): "outside the media paths",  # a symlink out
            str(media / "Escape" / "secret"): "outside the media paths",
            str(media / ".." / "outside"): "'..'",
            str(media / "TV" / ".."): "'..'",
            str(media) + "\x00/TV": "NUL",
            str(outside): "outside the media paths",
            "/etc": "outside the media paths",
            "/does/not/exist": "outside the media paths",  # the same answer: nothing said about outside
            "TV": "absolute",
        }
        for path, why in refusals.items():
            refused = await api.get(route, params={"path": path})
            assert refused.status_code == 400, (path, refused.text)
            assert why in refused.json()["detail"], (path, refused.text)
            assert "secret" not in refused.text
        missing = await api.get(route, params={"path": str(media / "gone")})
        assert missing.status_code == 404
        not_a_folder = await api.get(route, params={"path": str(media / "TV" / "episode.mkv")})
        assert not_a_folder.status_code == 404
        through_link = await api.get(route, params={"path": str(media / "Shortcut")})
        assert through_link.json()["path"] == str(media / "TV")  # where it leads, inside
        os.chmod(media / "Movies", 0)
        try:
            if os.geteuid() != 0:  # root reads any folder
                assert (await api.get(route, params={"path": str(media / "Movies")})).status_code == 404
        finally:
            os.chmod(media / "Movies", 0o755)
