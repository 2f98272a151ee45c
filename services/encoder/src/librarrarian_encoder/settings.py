"""The encoder's settings, read once from the environment."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from librarrarian_runtime import env

VERIFY_MODES = ("sample", "full")


@dataclass(frozen=True)
class Settings:
    nats_url: str
    media_paths: tuple[Path, ...]
    node: str
    slots: int = 1
    x265_preset: str = "medium"
    x265_crf: int = 22
    max_output_ratio: float = 1.0
    verify: str = "sample"
    scratch_dir: Path = Path(tempfile.gettempdir()) / "librarrarian-scratch"
    grace_seconds: float = 30.0

    @classmethod
    def from_env(cls) -> Settings:
        verify = env.text("VERIFY", "sample")
        if verify not in VERIFY_MODES:
            raise env.SettingsError(f"VERIFY must be 'sample' or 'full', not {verify!r}")
        crf = env.integer("X265_CRF", 22, minimum=0)
        if crf > 51:
            raise env.SettingsError(f"X265_CRF must be between 0 and 51, not {crf}")
        scratch = env.optional("SCRATCH_DIR")
        return cls(
            nats_url=env.nats_url(),
            media_paths=env.paths("MEDIA_PATHS"),
            node=env.node_name(),
            slots=env.integer("SLOTS", 1, minimum=1),
            x265_preset=env.text("X265_PRESET", "medium"),
            x265_crf=crf,
            max_output_ratio=env.number("MAX_OUTPUT_RATIO", 1.0, minimum=0.01),
            verify=verify,
            scratch_dir=Path(scratch) if scratch else cls.scratch_dir,
            grace_seconds=env.number("GRACE_SECONDS", 30.0, minimum=0),
        )
