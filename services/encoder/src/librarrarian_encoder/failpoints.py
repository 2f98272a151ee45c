"""The encoder's failpoints (see ``librarrarian_runtime.failpoints``): the worst moments of a replace for the
user's file, where the tests kill the encoder outright to prove the file survives."""

from __future__ import annotations

from librarrarian_runtime.failpoints import VARIABLE, reach

POINTS = ("verifying", "after-commit", "after-rename")

__all__ = ["POINTS", "VARIABLE", "reach"]
