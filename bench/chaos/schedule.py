"""Which fault, at which moment: a pure function of the seed, so a failing run is replayed exactly.

A moment is a delay after the run's trigger: ``added`` (the run's files were just copied into the library,
so the fault lands while they are probed, queued or encoded) or ``encoding`` (an ffmpeg of the encoder is
running, so it lands mid-encode).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

# fault -> trigger. Order is the report's.
FAULTS: dict[str, str] = {
    "kill -9 encoder": "encoding",
    "kill -9 scheduler": "added",
    "kill -9 scanner": "added",
    "kill -9 history": "encoding",
    "kill -9 cleanup": "added",
    "kill -9 gateway": "added",
    "kill -9 up": "encoding",
    "SIGTERM up twice": "added",
    "NATS restart": "added",
    "NATS pause": "encoding",
    "PostgreSQL restart": "added",
    "NATS + PostgreSQL restart": "encoding",
    "ffmpeg hung (SIGSTOP)": "encoding",
    "ffmpeg crash (SIGKILL)": "encoding",
    "output file-size limit": "encoding",
    "library folder vanishes": "added",
    "file changed while probed": "added",
    "file changed while encoded": "encoding",
    "file renamed while encoded": "encoding",
    "file deleted while encoded": "encoding",
}

# The quick mode (CI): one of each kind of fault that has found something before, a few minutes in all.
QUICK = (
    "kill -9 encoder",
    "kill -9 scheduler",
    "NATS restart",
    "PostgreSQL restart",
    "ffmpeg crash (SIGKILL)",
    "library folder vanishes",
    "file changed while encoded",
    "SIGTERM up twice",
)

# The largest delay after each trigger: within it lie probing and queueing (added), most of an encode
# of the run's clips (encoding).
MAX_DELAY = {"added": 6.0, "encoding": 2.0}


@dataclass(frozen=True)
class Injection:
    run: int
    fault: str
    trigger: str
    delay: float  # seconds after the trigger

    def describe(self) -> str:
        return f"run {self.run}: {self.fault} {self.delay:.2f} s after {self.trigger}"


def plan(
    seed: int, quick: bool, injections: int | None = None, only: Sequence[str] | None = None
) -> list[Injection]:
    """The runs, one fault each: every fault in turn (shuffled per round) until ``injections`` are planned;
    by default the quick set once, or every fault three times (60) in the full mode; ``only`` these."""
    rng = random.Random(seed)
    kinds = list(only or (QUICK if quick else FAULTS))
    count = injections if injections is not None else (len(kinds) if quick else 3 * len(kinds))
    runs: list[Injection] = []
    while len(runs) < count:
        round_ = kinds[:]
        rng.shuffle(round_)
        for fault in round_[: count - len(runs)]:
            trigger = FAULTS[fault]
            delay = round(rng.uniform(0.0, MAX_DELAY[trigger]), 2)
            runs.append(Injection(len(runs) + 1, fault, trigger, delay))
    return runs
