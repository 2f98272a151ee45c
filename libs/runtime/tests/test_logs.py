"""``LOG_LEVEL``: the level of every service's own lines, the libraries' kept at warnings, a bad value
refused with the variable named."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from librarrarian_runtime import env, logs


@pytest.fixture(autouse=True)
def restored_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    nats_level = logging.getLogger("nats").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("nats").setLevel(nats_level)


@pytest.mark.parametrize(
    ("value", "level"), [("debug", logging.DEBUG), ("WARNING", logging.WARNING), ("", logging.INFO)]
)
def test_the_level_applies_to_the_services_lines(
    monkeypatch: pytest.MonkeyPatch, value: str, level: int
) -> None:
    monkeypatch.setenv("LOG_LEVEL", value)
    logs.configure("encoder")
    assert logging.getLogger("librarrarian_encoder.node").getEffectiveLevel() == level
    assert logging.getLogger("nats").getEffectiveLevel() == max(logging.WARNING, level)


def test_a_line_names_its_service_and_level(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LOG_LEVEL", "warning")
    logs.configure("scheduler")
    logging.getLogger("librarrarian_scheduler.jobs").info("job 1 queued")
    logging.getLogger("librarrarian_scheduler.jobs").warning("job 1 retry scheduled on box")
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].endswith("WARNING scheduler job 1 retry scheduled on box")


def test_a_bad_level_is_refused_with_the_variable_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_LEVEL", "verbose")
    with pytest.raises(env.SettingsError, match="LOG_LEVEL must be one of DEBUG, INFO"):
        logs.configure("gateway")
