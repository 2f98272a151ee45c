"""The chaos harness's pure parts (``make chaos`` runs the rest): its schedule replays from a seed, and each
invariant check fails on the case it exists for (a lost job, a duplicated commit, a left-over temporary
file, a damaged original, a process that outlived a stop), and passes on a clean run."""

from __future__ import annotations

from pathlib import Path

from bench.chaos import invariants, report, schedule
from bench.chaos.invariants import Expected, Facts, Job, Seen

ORIGINAL = Facts("h264", 5.3, (("audio", 1), ("video", 1)))
OUTPUT = Facts("hevc", 5.31, (("audio", 1), ("video", 1)))
A, B = Path("/lib/A.mp4"), Path("/lib/B.mkv")


def expected() -> list[Expected]:
    return [Expected(A, "a" * 64, ORIGINAL, needs_job=True), Expected(B, "b" * 64, ORIGINAL, needs_job=True)]


def test_the_same_seed_plans_the_same_runs_and_another_seed_others() -> None:
    assert schedule.plan(7, quick=False) == schedule.plan(7, quick=False)
    assert schedule.plan(7, quick=False) != schedule.plan(8, quick=False)
    full = schedule.plan(7, quick=False)
    assert len(full) >= 50 and {i.fault for i in full} == set(schedule.FAULTS)
    quick = schedule.plan(7, quick=True)
    assert {i.fault for i in quick} == set(schedule.QUICK) and len(quick) == len(schedule.QUICK)
    assert all(0 <= i.delay <= schedule.MAX_DELAY[i.trigger] for i in full)


def test_a_clean_run_passes_every_check() -> None:
    jobs = [Job(1, str(A), "done"), Job(2, str(B), "skipped")]
    seen = {A: Seen(True, "f" * 64, OUTPUT), B: Seen(True, "b" * 64)}
    assert invariants.check_files(expected(), seen) == []
    assert invariants.check_jobs(expected(), jobs) == []
    assert invariants.check_history([1], jobs) == []
    assert invariants.check_temp_files([]) == []
    assert invariants.check_processes([], "after one SIGTERM") == []
    assert invariants.check_rerun(12.0, 40.0) == []
    assert invariants.check_catalogue(10, 10) == []


def test_a_lost_job_fails() -> None:
    kinds = [v.kind for v in invariants.check_jobs(expected(), [Job(1, str(A), "done")])]
    assert kinds == [invariants.LOST]
    stuck = invariants.check_jobs(expected(), [Job(1, str(A), "done"), Job(2, str(B), "running")])
    assert sorted(v.kind for v in stuck) == sorted([invariants.LOST, invariants.STUCK])
    # Done by the scheduler, never recorded by history: lost on the way.
    assert [v.kind for v in invariants.check_history([], [Job(1, str(A), "done")])] == [invariants.LOST]


def test_a_duplicated_commit_fails() -> None:
    twice = [Job(1, str(A), "done"), Job(3, str(A), "done"), Job(2, str(B), "done")]
    assert [v.kind for v in invariants.check_jobs(expected(), twice)] == [invariants.DUPLICATE]
    history = invariants.check_history([1, 1, 2], [Job(1, str(A), "done"), Job(2, str(B), "done")])
    assert [v.kind for v in history] == [invariants.DUPLICATE]


def test_a_left_over_temporary_file_or_process_fails() -> None:
    left = invariants.check_temp_files([Path("/lib/.tmp_librarrarian-1-abc-A.mp4")])
    assert [v.kind for v in left] == [invariants.TEMP]
    outlived = invariants.check_processes(["123: postgres -D /data/postgres"], "after SIGTERM twice")
    assert [v.kind for v in outlived] == [invariants.OUTLIVED]


def test_a_damaged_missing_or_resurrected_file_fails() -> None:
    truncated = Facts("hevc", 2.0, (("audio", 1), ("video", 1)))
    no_audio = Facts("hevc", 5.3, (("video", 1),))
    for facts in (truncated, no_audio, None, Facts("h264", 5.3, ORIGINAL.kinds)):
        seen = {A: Seen(True, "f" * 64, facts), B: Seen(True, "b" * 64)}
        assert [v.kind for v in invariants.check_files(expected(), seen)] == [invariants.DAMAGED], facts
    assert [v.kind for v in invariants.check_files(expected(), {B: Seen(True, "b" * 64)})] == [
        invariants.MISSING
    ]
    deleted = [Expected(A, None, None, needs_job=False)]
    assert [v.kind for v in invariants.check_files(deleted, {A: Seen(True, "f" * 64, OUTPUT)})] == [
        invariants.DAMAGED
    ]


def test_a_late_rerun_or_an_emptied_catalogue_fails() -> None:
    assert [v.kind for v in invariants.check_rerun(None, 40.0)] == [invariants.LATE]
    assert [v.kind for v in invariants.check_rerun(41.0, 40.0)] == [invariants.LATE]
    assert [v.kind for v in invariants.check_catalogue(10, 0)] == [invariants.CATALOGUE]


def test_the_table_counts_per_fault_and_marks_a_recovery_that_never_came() -> None:
    results = [
        report.RunResult(1, "kill -9 encoder", 0.5, 4, 12.0),
        report.RunResult(2, "kill -9 encoder", 1.0, 6, 20.0, [invariants.Violation(invariants.TEMP, "x")]),
        report.RunResult(3, "NATS restart", 2.0, 8, None, [invariants.Violation(invariants.STUCK, "y")]),
    ]
    table = {r["fault"]: r for r in report.rows(results)}
    assert table["kill -9 encoder"] == {
        "fault": "kill -9 encoder", "runs": 2, "files": 10, "lost": 0, "dup commits": 0, "temp left": 1,
        "outlived": 0, "other": 0, "median s": 16.0, "worst s": 20.0,
    }  # fmt: skip
    assert table["NATS restart"]["lost"] == 1 and table["NATS restart"]["worst s"] == "never"
    assert table["all"]["runs"] == 3
    assert "kill -9 encoder" in report.text(report.rows(results))
