"""Schemathesis over the gateway's own OpenAPI document, with an admin key, against the real gateway (with
the real scheduler and history behind it): generated requests, valid and not, to every operation; no answer
may be a server error, and every answer must match the schema the document gives for it.

Left out, and why:
- ``GET /api/v1/events``: a stream that never ends (``test_events`` follows it).
- ``/api/v1/sources/…``: they make the scanner call the media servers named in the request; generated URLs
  would reach out of the machine (``test_sources_api`` drives them against fake servers).
- ``/api/v1/arr…``: the same for the Arr apps, through the arr service, which does not run here
  (``services/arr/tests`` drive them against fake Sonarr, Radarr and Lidarr).
- ``DELETE /api/v1/keys/{key_id}``: a generated id may be the test's own key, and every later request
  would be refused (``test_accounts_api`` revokes keys).
- ``/api/v1/backups/…``: made and restored by the backup duty of ``librarrarian up``, which does not run
  here (``tests/test_backups.py`` drives them).
- ``/api/v1/recycle…``: answered by the cleanup service, which does not run here (``test_browser_recycle``
  and the encoder's ``test_recycle`` drive them).
- ``POST /api/v1/notifications/test``: it sends to the URLs a generated request added, out of the machine
  (``test_notifications`` sends to a server of its own).

A short run (a few examples per operation, the same seed every time) is part of ``make test``;
``SCHEMATHESIS_EXAMPLES`` asks for more and ``SCHEMATHESIS_SEED`` for other requests.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from .sites import API_KEY, Site

EXCLUDED = r"^/api/v1/(events|sources(/.*)?|arr(/.*)?|keys/\{key_id\}|backups(/.*)?|recycle(/.*)?|notifications/test)$"
EXAMPLES = os.environ.get("SCHEMATHESIS_EXAMPLES", "5")
SEED = os.environ.get("SCHEMATHESIS_SEED", "1")  # fixed: the same requests every run, unless asked


async def test_no_generated_request_breaks_the_api_or_its_schema(site: Site, tmp_path: Path) -> None:
    process = await asyncio.create_subprocess_exec(
        "schemathesis",
        "run",
        f"{site.url}/api/v1/openapi.json",
        "--header",
        f"X-Api-Key: {API_KEY}",
        "--checks",
        "not_a_server_error,response_schema_conformance",
        "--max-examples",
        EXAMPLES,
        "--phases",
        "examples,coverage,fuzzing",
        "--exclude-path-regex",
        EXCLUDED,
        "--generation-database",
        "none",
        "--seed",
        SEED,
        "--workers",
        "1",
        "--no-color",
        "--report-dir",
        str(tmp_path / "report"),
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
