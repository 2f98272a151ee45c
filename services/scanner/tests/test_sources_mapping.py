"""Path mappings between a media server's view of the library and ours: pure, so tested without servers."""

from __future__ import annotations

import pytest
from librarrarian_contracts.sources import PathMapping
from librarrarian_runtime.path_mapping import to_local, to_server

MAPPINGS = (
    PathMapping(server="/data", local="/srv/media"),
    PathMapping(server="/data/tv/", local="/mnt/tv"),
    PathMapping(server="D:\\Movies", local="/srv/movies"),
)


def test_the_longest_matching_prefix_wins() -> None:
    assert to_local("/data/films/a.mkv", MAPPINGS) == "/srv/media/films/a.mkv"
    assert to_local("/data/tv/Show/s01e01.mkv", MAPPINGS) == "/mnt/tv/Show/s01e01.mkv"


def test_only_whole_path_components_match() -> None:
    assert to_local("/data2/a.mkv", MAPPINGS) == "/data2/a.mkv"
    assert to_local("/data/tvshows/a.mkv", MAPPINGS) == "/srv/media/tvshows/a.mkv"


def test_an_unmapped_path_is_kept_as_it_is() -> None:
    assert to_local("/elsewhere/a.mkv", MAPPINGS) == "/elsewhere/a.mkv"
    assert to_local("/elsewhere/a.mkv", ()) == "/elsewhere/a.mkv"


def test_windows_servers_match_without_case_and_use_slashes_here() -> None:
    assert to_local("d:\\movies\\Film (2001)\\Film.mkv", MAPPINGS) == "/srv/movies/Film (2001)/Film.mkv"
    assert to_server("/srv/movies/Film (2001)", MAPPINGS) == "D:\\Movies\\Film (2001)"


def test_to_server_reverses_to_local() -> None:
    for path in ("/data/films/a.mkv", "/data/tv/Show/s01e01.mkv", "/data"):
        assert to_server(to_local(path, MAPPINGS), MAPPINGS) == path


def test_a_root_prefix_maps_everything_below_it() -> None:
    mappings = (PathMapping(server="/", local="/srv/media"),)
    assert to_local("/films/a.mkv", mappings) == "/srv/media/films/a.mkv"
    assert to_server("/srv/media/films", mappings) == "/films"


def test_path_mappings_from_the_environment_are_parsed_or_refused() -> None:
    from librarrarian_runtime.env import SettingsError
    from librarrarian_runtime.path_mapping import parse

    mappings = parse("/media=/mnt/nas, D:\\Movies=/srv/movies")
    assert to_local("/media/TV/a.mkv", mappings) == "/mnt/nas/TV/a.mkv"
    assert to_server("/srv/movies/x.mp4", mappings) == "D:\\Movies\\x.mp4"
    assert parse("") == ()
    for bad in ("/media", "/media=relative", "=/x"):
        with pytest.raises(SettingsError):
            parse(bad)
