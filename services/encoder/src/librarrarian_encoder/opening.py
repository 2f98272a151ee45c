"""Reaching a job's original safely: inside the media paths, through its folder opened with no symlink on the
way, still the file scanned (or the output an earlier attempt left in its place); and keeping it in the
recycle folder when its output takes its place."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path, PurePosixPath
from typing import NamedTuple

from librarrarian_contracts import FileIdentity
from librarrarian_runtime import path_mapping, recycle
from librarrarian_runtime.media_paths import OutsideMediaPaths, contain

from . import earlier
from . import replace as safe_replace
from .folder import Folder, NotAFile, Redirected
from .job import Decided, Job, Leftover, Outcome, Verified


class Changed(NamedTuple):
    """Another file than the one scanned is under the original's name (``found``): the user's, or this
    attempt's output put there by a delivery that died before reporting it (``earlier.granted_output``)."""

    source: Path
    folder: Folder
    found: FileIdentity


def open_original(
    job: Job, roots: tuple[Path, ...]
) -> tuple[Path, Folder, int] | Changed | Leftover | Outcome:
    """The job's file inside the media paths, its folder opened with no symlink on the way and the file
    opened in it, still the one scanned; or this job's output in its place, left by an earlier attempt; or
    another file there (``Changed``); or why not."""
    try:
        source = contain(path_mapping.to_local(job.request.path, job.mappings), roots)
        folder = Folder.open(source.parent, roots)
    except OutsideMediaPaths:
        return job.failed("the file is outside this node's media paths", retryable=False)
    except FileNotFoundError:
        return job.failed("the file is gone", retryable=False)
    except Redirected as error:
        return job.failed(str(error), retryable=False)
    except OSError as error:
        return job.failed(f"cannot open the file's folder: {error.strerror or error}")
    try:
        original = folder.open_file(source.name)
    except FileNotFoundError:
        earlier.give_up(folder, job.id, source.stem)
        return job.failed("the file is gone", retryable=False)
    except (NotAFile, OSError) as error:
        earlier.give_up(folder, job.id, source.stem)
        reason = error.strerror if isinstance(error, OSError) else str(error)
        return job.failed(f"{source.name} is not the file scanned: {reason}", retryable=False)
    # An earlier attempt's names of the original in the recycle folder: dropped when that attempt died
    # before its output took a name; kept (and not counted as the user's hard links) when it died after.
    ours = 0
    with contextlib.suppress(OSError, recycle.Unavailable):
        ours = recycle.forget_earlier(recycle.root_of(source, roots), job.id, os.fstat(original), folder.fd)
    opened = safe_replace.identity(os.fstat(original))
    if not opened.same_file(job.request.identity):
        os.close(original)
        if (done := earlier.replaced(job, source, roots, folder)) is not None:
            return done
        return Changed(source, folder, opened)
    if opened.links - ours > 1 and not job.transcode.replace_hard_links:
        os.close(original)
        folder.close()
        return job.skipped(safe_replace.hard_linked(opened.links - ours), None)
    return source, folder, original


class RecycleKeeper:
    """Keeps a job's original in the recycle folder of its media path (``recycle.keep``); the entry made."""

    def __init__(self, job: Verified | Decided, roots: tuple[Path, ...]) -> None:
        self.job, self.roots = job, roots
        self.entry: str | None = None

    def __call__(
        self, folder: int, source: str, original: os.stat_result, final: str, output: FileIdentity
    ) -> str:
        root = recycle.root_of(self.job.source, self.roots)
        name = recycle.keep(
            root,
            folder,
            source,
            original,
            job_id=self.job.id,
            path=self.job.request.path,
            relative=PurePosixPath(self.job.source.relative_to(root)),
            final=final,
            output=output,
        )
        self.entry = str(root / recycle.FOLDER / name)
        return name
