"""The encoder's failpoints (see ``librarrarian_runtime.failpoints``): the worst moments of a job for the
user's file, where the tests kill the encoder outright to prove the file survives: its output just created
(not yet handed to ffmpeg), verifying (a point that can also hold the job there, while the slot's next job
encodes), between the commit and the rename, between the rename and the unlink."""

from __future__ import annotations

from librarrarian_runtime.failpoints import HELD_SUFFIX, HOLD, RELEASE_VARIABLE, VARIABLE, held, reach

POINTS = ("output-created", "verifying", "after-commit", "after-recycle", "after-rename")

__all__ = ["HELD_SUFFIX", "HOLD", "POINTS", "RELEASE_VARIABLE", "VARIABLE", "held", "reach"]
