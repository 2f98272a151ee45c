"""Track plans: what a library folder's rules keep of a file's audio and subtitle streams."""

from __future__ import annotations

import msgspec
import pytest
from librarrarian_contracts import MediaProbe, StreamInfo, Transcode, tracks
from librarrarian_contracts.messages import FileIdentity
from librarrarian_contracts.settings import LibraryFolder, TrackRules


def film(*streams: StreamInfo) -> MediaProbe:
    video = StreamInfo(index=0, kind="video", codec="h264")
    return MediaProbe(container="matroska", duration=5.0, video_codec="h264", streams=(video, *streams))


def audio(index: int, language: str | None, **more: object) -> StreamInfo:
    return StreamInfo(index=index, kind="audio", codec="aac", language=language, **more)  # type: ignore[arg-type]


def subtitle(index: int, language: str | None, codec: str = "subrip", **more: object) -> StreamInfo:
    return StreamInfo(index=index, kind="subtitle", codec=codec, language=language, **more)  # type: ignore[arg-type]


FILM = film(
    audio(1, "eng", default=True),
    audio(2, "fre"),
    audio(3, "ger"),
    audio(4, "eng", title="Director's Commentary"),
    subtitle(5, "eng"),
    subtitle(6, "fre"),
    subtitle(7, "eng", codec="hdmv_pgs_subtitle"),
    subtitle(8, None),
)


def test_no_rules_or_rules_that_keep_everything_make_no_plan() -> None:
    assert tracks.plan(FILM, None) is None
    assert tracks.plan(FILM, TrackRules()) is None
    # Rules that drop nothing of this file: no plan either (the job copies every stream, as before).
    assert tracks.plan(FILM, TrackRules(languages=("eng", "fre", "ger"))) is None


def test_languages_commentary_and_image_subtitles() -> None:
    plan = tracks.plan(FILM, TrackRules(languages=("eng",), drop_commentary=True, image_subtitles=False))
    assert plan is not None
    assert plan.keep == (1, 5, 8)  # the untagged subtitle stays: nothing says it is unwanted
    assert {d.index: d.why for d in plan.dropped} == {
        2: "language fre",
        3: "language ger",
        4: "commentary",
        6: "language fre",
        7: "image subtitle (hdmv_pgs_subtitle)",
    }
    assert plan.original_language == "eng"
    assert tracks.describe(FILM, plan)[2] == 'drop audio #4 (eng, "Director\'s Commentary"): commentary'


def test_the_original_language_stays_whatever_the_languages_say() -> None:
    plan = tracks.plan(FILM, TrackRules(languages=("fr",)))  # ISO 639-1 matches fre
    assert plan is not None
    assert plan.keep == (1, 2, 4, 5, 6, 7, 8)
    assert [d.index for d in plan.dropped] == [3]


def test_the_default_track_says_the_original_language() -> None:
    dubbed_first = film(audio(1, "ger"), audio(2, "jpn", default=True), subtitle(3, "jpn"))
    plan = tracks.plan(dubbed_first, TrackRules(languages=("eng",)))
    assert plan is not None and plan.original_language == "jpn"
    assert plan.keep == (2, 3)


def test_at_least_one_audio_track_stays() -> None:
    only_commentary = film(
        audio(1, "fre", title="Commentary"), audio(2, "fre", comment=True), subtitle(3, "fre")
    )
    plan = tracks.plan(only_commentary, TrackRules(drop_commentary=True))
    assert plan is not None and plan.keep == (1, 3)
    assert [d.index for d in plan.dropped] == [2]


@pytest.mark.parametrize(("given", "same"), [("fre", "fra"), ("ger", "deu"), ("en", "eng"), ("und", None)])
def test_language_codes_of_one_language_match(given: str, same: str | None) -> None:
    assert tracks.language(given) == same


def test_the_planned_probe_and_old_messages() -> None:
    identity = FileIdentity(size=1, mtime_ns=1, inode=1)
    work = Transcode(job_id=1, attempt=1, path="/m/a.mkv", identity=identity, probe=FILM, streams=(1, 5))
    assert [s.index for s in work.planned().streams] == [0, 1, 5]
    # A message from a scheduler older than track plans decodes as "keep every stream".
    old = msgspec.json.decode(
        msgspec.json.encode(msgspec.structs.replace(work, streams=None)).replace(b',"streams":null', b""),
        type=Transcode,
    )
    assert old.streams is None and old.planned() == FILM


def test_folder_rules_refuse_what_is_not_a_language_code() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"path": "/m", "tracks": {"languages": ["english; rm"]}}, LibraryFolder)
