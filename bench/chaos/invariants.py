"""The invariants, checked after every run. Pure: each takes what was seen (files, records, processes) and
returns the violations, so a test can hand it a lost job, a duplicated commit or a left-over file and see it
fail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

FINAL = frozenset({"done", "failed", "skipped"})
TARGET_CODECS = frozenset({"hevc", "av1"})
# The encoder's own verification bound: duration within 0.5 s or 0.1 %.
DURATION_SLACK = 0.5

# Violation kinds, as the report counts them.
LOST = "lost"  # a file that should have a job has none in a final state
DUPLICATE = "duplicate commit"
TEMP = "temp file left"
MISSING = "file missing"
DAMAGED = "original changed"
OUTLIVED = "process outlived stop"
LATE = "re-run late"
CATALOGUE = "catalogue emptied"
STUCK = "job not final"


@dataclass(frozen=True)
class Violation:
    kind: str
    detail: str


@dataclass(frozen=True)
class Facts:
    """What a probe says of a video: enough to tell a verified output from damage."""

    video_codec: str | None
    duration: float
    kinds: tuple[tuple[str, int], ...]  # stream kind -> count, sorted


@dataclass(frozen=True)
class Expected:
    """A library file as it must be found after the run: ``sha256`` None when a fault deleted it."""

    path: Path
    sha256: str | None
    facts: Facts | None  # the original's, for a replaced file
    needs_job: bool  # a video that must end in a final job (not a bad input, not deleted)


@dataclass(frozen=True)
class Seen:
    exists: bool
    sha256: str | None = None
    facts: Facts | None = None


@dataclass(frozen=True)
class Job:
    id: int
    path: str
    status: str
    output_path: str | None = None


def check_files(expected: Iterable[Expected], seen: Mapping[Path, Seen]) -> list[Violation]:
    """Every original is byte-identical, or replaced by a verified output (target codec, same duration
    within the slack, same stream kinds and counts); none is missing; a deleted one does not come back."""
    out = []
    for want in expected:
        got = seen.get(want.path, Seen(exists=False))
        if want.sha256 is None:
            if got.exists:
                out.append(
                    Violation(DAMAGED, f"{want.path}: deleted during the run, but a file is there again")
                )
            continue
        if not got.exists:
            out.append(Violation(MISSING, f"{want.path}: missing"))
        elif got.sha256 != want.sha256 and not verified_output(want.facts, got.facts):
            out.append(
                Violation(
                    DAMAGED, f"{want.path}: changed, not a verified output ({want.facts} -> {got.facts})"
                )
            )
    return out


def verified_output(original: Facts | None, output: Facts | None) -> bool:
    if original is None or output is None:
        return False
    return (
        output.video_codec in TARGET_CODECS
        and abs(output.duration - original.duration) <= max(DURATION_SLACK, original.duration * 0.001)
        and output.kinds == original.kinds
    )


def check_temp_files(found: Iterable[Path]) -> list[Violation]:
    return [Violation(TEMP, str(path)) for path in found]


def check_jobs(expected: Iterable[Expected], jobs: Sequence[Job]) -> list[Violation]:
    """Every job final; every file that needs one has a final job (else lost); no file done twice."""
    out = [Violation(STUCK, f"job {j.id} {j.path}: {j.status}") for j in jobs if j.status not in FINAL]
    final_paths = {j.path for j in jobs if j.status in FINAL}
    for want in expected:
        if want.needs_job and str(want.path) not in final_paths:
            out.append(Violation(LOST, f"{want.path}: no job in a final state"))
    done = Counter(j.path for j in jobs if j.status == "done")
    out += [Violation(DUPLICATE, f"{path}: done {n} times") for path, n in done.items() if n > 1]
    return out


def check_history(history_done: Sequence[int], jobs: Sequence[Job]) -> list[Violation]:
    """None committed twice (history records each job's completion once), and history's total of done
    transcodes equals the scheduler's."""
    counts = Counter(history_done)
    out = [
        Violation(DUPLICATE, f"job {job}: {n} done records in history") for job, n in counts.items() if n > 1
    ]
    scheduler_done = {j.id for j in jobs if j.status == "done"}
    if set(counts) != scheduler_done:
        missing = sorted(scheduler_done - set(counts))
        extra = sorted(set(counts) - scheduler_done)
        out.append(
            Violation(DUPLICATE if extra else LOST, f"history vs scheduler: missing {missing}, extra {extra}")
        )
    return out


def check_processes(leftovers: Iterable[str], when: str) -> list[Violation]:
    return [Violation(OUTLIVED, f"{when}: {line}") for line in leftovers]


def check_rerun(seconds: float | None, limit: float) -> list[Violation]:
    """After a node dies its job runs again (or ends) within AckWait + 10 s."""
    if seconds is None:
        return [Violation(LATE, f"the interrupted job did not run again within {limit:.0f} s")]
    if seconds > limit:
        return [Violation(LATE, f"the interrupted job ran again after {seconds:.1f} s (limit {limit:.0f} s)")]
    return []


def check_catalogue(before: int, lowest_during: int) -> list[Violation]:
    """An unmounted share must not read as "every file deleted": the catalogue never shrinks while the
    folder is away (nothing was deleted)."""
    if lowest_during < before:
        return [
            Violation(
                CATALOGUE, f"catalogue fell from {before} to {lowest_during} files while the folder was away"
            )
        ]
    return []
