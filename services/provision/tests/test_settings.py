"""``NATS_REPLICAS``: how many servers keep each stream and bucket (1, or 3 or 5 for a JetStream cluster)."""

from __future__ import annotations

import pytest
from librarrarian_provision.settings import Settings
from librarrarian_runtime.env import SettingsError


def test_one_server_keeps_everything_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NATS_REPLICAS", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert Settings.from_env().replicas == 1
    monkeypatch.setenv("NATS_REPLICAS", "3")
    assert Settings.from_env().replicas == 3


@pytest.mark.parametrize("value", ["2", "0", "7", "three"])
def test_a_count_a_cluster_cannot_keep_is_refused_at_start(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("NATS_REPLICAS", value)
    with pytest.raises(SettingsError, match="NATS_REPLICAS"):
        Settings.from_env()
