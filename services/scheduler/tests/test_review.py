"""The scheduler's side of review before replace, against a real scheduler, NATS and PostgreSQL: a reviewed
folder's job carries ``review`` to the encoder; an output kept by the holder of the commit makes the job
ready to replace (holding no slot) with its previews; a scan finding the file again adds nothing, and the
stale-file finder's report of the waiting output never becomes a cleanup job; a decision is the job's next
attempt carrying the output as kept, and a refused one brings the job back for review with the reason."""

from __future__ import annotations

import msgspec
from librarrarian_contracts import (
    FileIdentity,
    JobFailed,
    JobStarted,
    ReviewDecision,
    ReviewRequested,
    StaleFileFound,
    WaitingOutput,
    publish,
    topology,
)
from librarrarian_contracts.settings import FOLDERS_KEY, LibraryFolder, ScannerFolders
from librarrarian_contracts.views import (
    JobsPage,
    JobsQuery,
    JobView,
    Preview,
    PreviewQuery,
    ReviewedJobs,
    ReviewJobs,
)
from librarrarian_runtime.errors import Conflict, NotFound
from librarrarian_runtime.queries import ask
from librarrarian_scheduler.settings import Settings
from librarrarian_testing import eventually
from nats.aio.client import Client
from nats.js import JetStreamContext

from .scheduler_client import granted, jobs, probed, pull_work, running_scheduler, status_is

FOLDER = "/media/Movies"
FILM = f"{FOLDER}/Film.mkv"
OUTPUT = f"{FOLDER}/.tmp_librarrarian-review-1-0123456789abcdef-Film.mkv"
WAITING = WaitingOutput(
    name=OUTPUT.rpartition("/")[2],
    identity=FileIdentity(size=400, mtime_ns=5, inode=99),
    codec="hevc",
    encoder="libx265",
    duration=5.3,
    vmaf=95.5,
)
FRAMES = (b"\xff\xd8\xff original frame", b"\xff\xd8\xff output frame")


def kept(job_id: int, attempt: int = 1) -> ReviewRequested:
    return ReviewRequested(
        job_id=job_id,
        attempt=attempt,
        node="box",
        path=FILM,
        output_path=OUTPUT,
        output=WAITING,
        size_before=1000,
        size_after=400,
        elapsed_seconds=1.0,
        delivery=1,
        previews=FRAMES,
        preview_at=1.3,
    )


async def job_view(nc: Client, path: str) -> JobView:
    page = await ask(nc, topology.SCHEDULER_JOBS_QUERY, JobsQuery(limit=100), JobsPage)
    (found,) = (j for j in page.items if j.path == path)
    return found


def stale(path: str, identity: FileIdentity) -> StaleFileFound:
    return StaleFileFound(path=path, identity=identity, why="temporary file untouched for 30 hours")


async def test_kept_waits_for_review_and_decisions_are_attempts(
    bus: tuple[Client, JetStreamContext], nats_url: str, database_url: str
) -> None:
    nc, js = bus
    kv = await js.key_value(topology.SETTINGS.name)
    await kv.put(
        FOLDERS_KEY, msgspec.json.encode(ScannerFolders(folders=(LibraryFolder(path=FOLDER, review=True),)))
    )
    settings = Settings(nats_url=nats_url, database_url=database_url, max_attempts=2, retry_delay_seconds=0)
    async with running_scheduler(nc, settings):
        await publish(js, msgspec.structs.replace(probed(FILM), library=FOLDER))
        (work,) = await pull_work(js, 1)
        assert work.review and work.decision is None
        job_id = work.job_id
        await granted(nc, job_id, 1)
        await publish(js, JobStarted(job_id=job_id, attempt=1, delivery=1, node="box", path=FILM))
        await publish(js, kept(job_id))
        await eventually(lambda: status_is(nc, FILM, "ready_to_replace"), message="ready to replace")
        view = await job_view(nc, FILM)
        assert (view.size_after, view.vmaf, view.previews, view.output_path) == (
            400,
            95.5,
            True,
            OUTPUT,
        )
        preview = await ask(nc, topology.SCHEDULER_PREVIEW, PreviewQuery(job_id=job_id, of="output"), Preview)
        assert (preview.jpeg, preview.at) == (FRAMES[1], 1.3)

        # The file found again by a scan, and its waiting output by the stale-file finder (under another path,
        # as the cleanup service may reach the library): neither adds a job. A stale file of someone else's
        # reported after them is recorded, so they were handled first.
        await publish(js, msgspec.structs.replace(probed(FILM), library=FOLDER))
        await publish(js, stale("/elsewhere/Movies/" + WAITING.name, WAITING.identity))
        await publish(
            js, stale(OUTPUT, FileIdentity(size=400, mtime_ns=6, inode=98))
        )  # same name, other file
        other = f"{FOLDER}/.tmp_othertool.mkv"
        await publish(js, stale(other, FileIdentity(size=3, mtime_ns=1, inode=5)))
        await eventually(lambda: status_is(nc, other, "awaiting_approval"), message="the other stale file")
        paths = await jobs(nc)
        assert set(paths) == {FILM, other}, paths  # the waiting output's reports were both taken for it

        # Decisions: a refusal names the job; one that is not ready is refused and nothing is queued.
        for wanted, error in (
            ((job_id, 10**9), NotFound),
            ((job_id, (await jobs(nc))[other]["id"]), Conflict),
        ):
            try:
                await ask(
                    nc, topology.SCHEDULER_REVIEW, ReviewJobs(accept=True, job_ids=wanted), ReviewedJobs
                )
            except error:
                pass
            else:
                raise AssertionError(f"{wanted} should be refused")
        assert (await jobs(nc))[FILM]["status"] == "ready_to_replace"

        reviewed = await ask(nc, topology.SCHEDULER_REVIEW, ReviewJobs(accept=True), ReviewedJobs)
        assert reviewed.job_ids == (job_id,)
        (accept,) = await pull_work(js, 1)
        assert (accept.attempt, accept.decision) == (2, ReviewDecision(accept=True, output=WAITING))
        # The encoder refuses it (the original changed while it waited): back to review, with the reason.
        await publish(js, JobStarted(job_id=job_id, attempt=2, delivery=1, node="box", path=FILM))
        refusal = "Film.mkv changed since it was scanned; the next scan queues it again"
        await publish(
            js,
            JobFailed(
                job_id=job_id, attempt=2, node="box", path=FILM, reason=refusal, retryable=False, delivery=1
            ),
        )
        await eventually(lambda: status_is(nc, FILM, "ready_to_replace"), message="back to review")
        job = (await jobs(nc))[FILM]
        assert job["reason"] == refusal and job["attempts"] == 2

        reviewed = await ask(
            nc, topology.SCHEDULER_REVIEW, ReviewJobs(accept=False, job_ids=(job_id,)), ReviewedJobs
        )
        (reject,) = await pull_work(js, 1)
        assert reject.attempt == 3 and reject.decision is not None and not reject.decision.accept
