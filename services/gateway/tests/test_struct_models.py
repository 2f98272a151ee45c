"""The API's response models are made from the contracts' Structs: same fields, same types, same optionality,
and what a service sends passes through them unchanged. No servers."""

from __future__ import annotations

import datetime
import json
from enum import StrEnum
from typing import Annotated, Literal

import msgspec
import pytest
from librarrarian_contracts import JobKind, JobStatus, sources
from librarrarian_contracts.quality import QualityChoice
from librarrarian_contracts.scans import ScanStatus
from librarrarian_contracts.settings import PathSettings, TranscodeSettings
from librarrarian_contracts.views import (
    Charts,
    CodecCount,
    DayQuality,
    DaySaved,
    HistoryEntry,
    JobProgress,
    JobsPage,
    JobView,
    NodeStatus,
    NodeThroughput,
    Stats,
)
from librarrarian_gateway.api import models
from librarrarian_gateway.api.struct_models import model_of
from pydantic import BaseModel, ValidationError

NOW = datetime.datetime(2026, 5, 1, 12, 0, tzinfo=datetime.UTC)
JOB = JobView(
    id=7,
    kind=JobKind.TRANSCODE,
    path="/m/Heat.mkv",
    status=JobStatus.PENDING,
    attempts=2,
    node=None,
    reason="stalled",
    error_log="frame 1",
    codec_before="h264",
    size_before=10,
    size_after=None,
    output_path=None,
    queued_at=NOW,
    started_at=NOW,
    finished_at=None,
    retry_at=NOW,
    version=4,
)
SAMPLES: list[tuple[type[BaseModel], msgspec.Struct]] = [
    (models.JobOut, JOB),
    (models.JobsPageOut, JobsPage(items=(JOB,), next_before_id=7, counts={"pending": 1})),
    (
        models.HistoryEntryOut,
        HistoryEntry(
            id=1,
            job_id=7,
            status="done",
            path="/m/Heat.mkv",
            output_path="/m/Heat.mkv",
            node="a",
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=10,
            size_after=5,
            duration=60.0,
            elapsed_seconds=30.0,
            reason=None,
            finished_at=NOW,
            vmaf=93.5,
        ),
    ),
    (
        models.HistoryEntryOut,
        HistoryEntry(
            id=2,
            job_id=8,
            status="done",
            path="/m/Show S01E01.mkv",
            output_path="/m/Show S01E01.mkv",
            node="a",
            encoder="libx265",
            codec_before="h264",
            codec_after="hevc",
            size_before=10,
            size_after=4,
            duration=60.0,
            elapsed_seconds=30.0,
            reason=None,
            finished_at=NOW,
            quality=QualityChoice(
                mode="target", level=27, fixed_level=24, target=95.0, measured=95.2, low=91.0, fixed_bytes=6
            ),
        ),
    ),
    (
        models.JobProgressOut,
        JobProgress(job_id=8, node="a", path="/m/Show S01E01.mkv", percent=40.0, phase="searching"),
    ),
    (
        models.ChartsOut,
        Charts(
            days=7,
            saved_per_day=(DaySaved(day=NOW.date(), files=1, bytes_saved=5),),
            codecs_before=(CodecCount(codec="h264", files=1),),
            codecs_after=(CodecCount(codec="hevc", files=1),),
            nodes=(
                NodeThroughput(node="a", files=1, bytes_before=10, media_seconds=60.0, busy_seconds=30.0),
            ),
            quality_per_day=(
                DayQuality(day=NOW.date(), measured=1, vmaf_mean=93.5, compared=1, bytes_saved_vs_fixed=-5),
            ),
        ),
    ),
    (model_of(TranscodeSettings), TranscodeSettings()),  # renamed fields ("1080p"), constraints
    (model_of(PathSettings), PathSettings()),
    (
        model_of(sources.SourcesStatus),
        sources.SourcesStatus(
            plex=sources.PlexStatus(configured=True), jellyfin=sources.JellyfinStatus(configured=False)
        ),
    ),
]


def wire(value: object) -> object:
    return json.loads(msgspec.json.encode(value))


@pytest.mark.parametrize(("model", "value"), SAMPLES, ids=lambda x: getattr(x, "__name__", ""))
def test_what_a_service_sends_passes_through_unchanged(model: type[BaseModel], value: msgspec.Struct) -> None:
    passed = model.model_validate(msgspec.to_builtins(value)).model_dump(mode="json", by_alias=True)
    assert passed == wire(value)


@pytest.mark.parametrize(
    ("model", "struct"),
    [
        (models.JobOut, JobView),
        (models.HistoryEntryOut, HistoryEntry),
        (models.JobProgressOut, JobProgress),
        (models.ChartsOut, Charts),
        (model_of(TranscodeSettings), TranscodeSettings),
    ],
)
def test_the_schema_has_the_structs_fields_types_and_optionality(
    model: type[BaseModel], struct: type[msgspec.Struct]
) -> None:
    fields = {f.encode_name: f for f in msgspec.structs.fields(struct)}
    schema = model.model_json_schema(mode="validation")
    assert set(schema["properties"]) == set(fields)
    required = {name for name, f in fields.items() if f.required}
    assert set(schema.get("required", ())) == required
    # What the API answers has every field, defaults included: the services always send them.
    assert set(model.model_json_schema(mode="serialization")["required"]) == set(fields)


def test_the_quality_choice_and_the_progress_phase_are_described() -> None:
    entry = models.HistoryEntryOut.model_json_schema(mode="serialization")
    quality = entry["$defs"]["QualityChoiceOut"]["properties"]
    assert set(quality) == set(QualityChoice.__struct_fields__)
    assert all(field.get("description") for field in quality.values())
    assert "5th percentile" in quality["low"]["description"]
    assert "by target" in entry["properties"]["quality"]["description"]
    phase = models.JobProgressOut.model_json_schema()["properties"]["phase"]
    assert phase["enum"] == ["searching", "encoding"] and "sample encodes" in phase["description"]


def test_the_api_shapes_differ_from_the_contract_only_where_meant_to() -> None:
    node = set(models.NodeOut.model_fields)
    assert node == set(NodeStatus.__struct_fields__) | {"progress"}
    assert set(models.StatsOut.model_fields) == set(Stats.__struct_fields__) | {"jobs"}
    scan = set(models.ScanOut.model_fields)
    assert scan == (set(ScanStatus.__struct_fields__) - {"scan_id"}) | {"id"}


class Colour(StrEnum):
    RED = "red"


class Inner(msgspec.Struct, frozen=True, kw_only=True):
    level: Annotated[int, msgspec.Meta(ge=0, le=100)]


class Outer(msgspec.Struct, frozen=True, kw_only=True):
    colour: Colour
    mode: Literal["a", "b"] = "a"
    pair: tuple[int, str]
    many: tuple[Inner, ...] = ()
    by_name: dict[str, Inner] = {}
    maybe: Inner | None = None
    renamed: int = msgspec.field(default=0, name="4k")


def test_nested_structs_enums_literals_tuples_and_constraints_keep_their_meaning() -> None:
    model = model_of(Outer)
    good = {"colour": "red", "pair": [1, "x"], "many": [{"level": 5}], "4k": 2, "maybe": {"level": 0}}
    assert model.model_validate(good).model_dump(mode="json", by_alias=True) == {
        **good,
        "mode": "a",
        "by_name": {},
    }
    for bad in (
        {**good, "colour": "blue"},
        {**good, "mode": "c"},
        {**good, "pair": [1, 2, 3]},
        {**good, "many": [{"level": 101}]},
        {**good, "maybe": {"level": -1}},
        {key: value for key, value in good.items() if key != "colour"},
    ):
        with pytest.raises(ValidationError):
            model.model_validate(bad)
    with pytest.raises(msgspec.ValidationError):  # the contract refuses the same
        msgspec.convert({**good, "many": [{"level": 101}]}, Outer)
