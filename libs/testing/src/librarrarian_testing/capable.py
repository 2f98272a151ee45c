"""The ffmpeg a test needs a capability of: the one chosen for it. A test is skipped, saying so, only when
no candidate has the capability (an ``FFMPEG_PATH`` without it); the bundled build is expected to have all."""

from __future__ import annotations

import pytest
from librarrarian_contracts.enums import FfmpegOrigin
from librarrarian_media.ffmpeg_builds import candidates
from librarrarian_media.ffmpeg_choice import Need, for_purpose


def ffmpeg_for(purpose: str, need: Need) -> str:
    """The path of the binary chosen for ``purpose``; fails or skips the test when none has all of ``need``."""
    use = for_purpose(purpose, need)
    if not use.lacking:
        return use.path
    if any(build.origin is FfmpegOrigin.BUNDLED for build in candidates()):
        pytest.fail(f"the bundled static ffmpeg is expected to have all that {purpose} needs: {use.why}")
    pytest.skip(f"no candidate ffmpeg has all that {purpose} needs: {use.why}")
