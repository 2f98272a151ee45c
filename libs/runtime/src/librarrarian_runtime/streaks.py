"""Logging a failure that repeats every second once per streak, not once per try: the first failure with its
reason, then one line when it works again, with how many tries failed in between."""

from __future__ import annotations

import logging


class FailureStreak:
    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log, self.what = log, what
        self.failures = 0

    def failed(self, error: BaseException) -> None:
        self.failures += 1
        if self.failures == 1:
            self.log.warning("%s failed (%r); retrying, quietly until it works again", self.what, error)

    def succeeded(self) -> None:
        if self.failures:
            self.log.info("%s works again after %d failed tries", self.what, self.failures)
        self.failures = 0
