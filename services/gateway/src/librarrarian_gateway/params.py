"""Parameters the API and the pages share: record ids are PostgreSQL bigints, so anything outside that range
is refused (422) before it reaches a service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query

# One below the largest bigint: a job is read as the page below id + 1.
MAX_ID = 2**63 - 2
RecordId = Annotated[int, Path(ge=1, le=MAX_ID)]
BeforeId = Annotated[int | None, Query(ge=1, le=MAX_ID, description="the next page: the id it starts below")]
