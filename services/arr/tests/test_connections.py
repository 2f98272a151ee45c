"""Setting an app up and testing its connection, against fake apps built from their OpenAPI documents: the
app's name and version, or the reason it failed in words a page can show (a wrong key, a wrong URL, not an
Arr app, no answer in time, an untrusted certificate), never its API key in an answer."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from librarrarian_contracts import ArrApp, topology
from librarrarian_contracts.arr import ArrAppStatus, ArrCheck, ArrSetup, ArrStatus, ArrTest
from librarrarian_contracts.views import Nothing
from librarrarian_runtime.errors import BadRequest
from librarrarian_testing.media_servers import FakeArr, serving
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import Route

from .arr_service import ArrService, service_settings, start


async def set_up(arr: ArrService, app: ArrApp, url: str, key: str | None, **options: object) -> ArrAppStatus:
    setup = ArrSetup(app=app, url=url, api_key=key, **options)  # type: ignore[arg-type]
    return await arr.ask(topology.ARR_SET, setup, ArrAppStatus)


async def check(arr: ArrService, app: ArrApp = ArrApp.SONARR) -> ArrCheck:
    return await arr.ask(topology.ARR_TEST, ArrTest(app=app), ArrCheck)


@pytest.fixture
async def sonarr(media: Path) -> AsyncIterator[tuple[FakeArr, str]]:
    fake = FakeArr(kind="sonarr", root="/tv", local_root=media)
    async with serving(fake.build()) as url:
        yield fake, url


async def test_a_working_connection_shows_the_apps_name_and_version_and_never_its_key(
    arr: ArrService, sonarr: tuple[FakeArr, str]
) -> None:
    fake, url = sonarr
    status = await set_up(arr, ArrApp.SONARR, url, fake.api_key, mode="automatic")
    assert status.configured and status.enabled and status.mode == "automatic" and status.ssl_verify
    result = await check(arr)
    assert (result.ok, result.app_name, result.version) == (True, "Sonarr", fake.version)
    raw = await arr.nc.request(topology.ARR_STATUS, b"{}", timeout=5)
    assert fake.api_key not in raw.data.decode()
    listed = await arr.ask(topology.ARR_STATUS, Nothing(), ArrStatus)
    assert [a.app for a in listed.apps if a.configured] == [ArrApp.SONARR]
    assert fake.rejected == []
    # The key is kept when the URL stays on the same server, and must be given again for another one.
    await set_up(arr, ArrApp.SONARR, url + "/", None)
    assert (await check(arr)).ok
    with pytest.raises(BadRequest, match="another server"):
        await set_up(arr, ArrApp.SONARR, "http://127.0.0.2:8989", None)


async def test_a_wrong_key_is_said_to_be_refused(arr: ArrService, sonarr: tuple[FakeArr, str]) -> None:
    _, url = sonarr
    await set_up(arr, ArrApp.SONARR, url, "not-the-key")
    result = await check(arr)
    assert not result.ok and result.problem == "unauthorized" and "401" in result.detail
    assert "not-the-key" not in result.detail


async def test_a_wrong_url_is_said_to_be_wrong(arr: ArrService, sonarr: tuple[FakeArr, str]) -> None:
    fake, url = sonarr
    await set_up(arr, ArrApp.SONARR, f"{url}/sonarr", fake.api_key)  # a base path the app does not have
    result = await check(arr)
    assert not result.ok and result.problem == "wrong_url"
    assert fake.rejected == ["GET /sonarr/api/v3/system/status is not a documented operation"]


async def test_a_server_that_is_no_arr_app_is_named_so(arr: ArrService, media: Path) -> None:
    async def page(_: object) -> HTMLResponse:
        return HTMLResponse("<html>a router's login page</html>")

    radarr = FakeArr(kind="radarr", root="/movies", local_root=media)
    async with serving(Starlette(routes=[Route("/{p:path}", page)])) as html, serving(radarr.build()) as url:
        await set_up(arr, ArrApp.SONARR, html, "key")
        result = await check(arr)
        assert (result.ok, result.problem) == (False, "not_arr")
        assert "router" not in result.detail  # the remote body is never echoed
        await set_up(arr, ArrApp.SONARR, url, radarr.api_key)
        result = await check(arr)
        assert (result.problem, result.detail.endswith("is Radarr, not Sonarr")) == ("not_arr", True)


async def test_a_server_that_does_not_answer_in_time_is_a_timeout(arr: ArrService) -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept_and_hold(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(accept_and_hold, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        await set_up(arr, ArrApp.SONARR, f"http://127.0.0.1:{port}", "key")
        result = await check(arr)
        assert (result.ok, result.problem) == (False, "timeout")
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


def self_signed(folder: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command line is needed to make the test's certificate"
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def test_a_self_signed_certificate_is_a_tls_error_until_its_check_is_turned_off(
    arr: ArrService, media: Path, tmp_path: Path
) -> None:
    fake = FakeArr(kind="lidarr", root="/music", local_root=media)
    async with serving(fake.build(), certificate=self_signed(tmp_path)) as url:
        assert url.startswith("https://")
        await set_up(arr, ArrApp.LIDARR, url, fake.api_key)
        result = await check(arr, ArrApp.LIDARR)
        assert (result.ok, result.problem) == (False, "tls")
        status = await set_up(arr, ArrApp.LIDARR, url, None, ssl_verify=False)
        assert status.ssl_verify is False
        result = await check(arr, ArrApp.LIDARR)
        assert (result.ok, result.app_name) == (True, "Lidarr")
    assert fake.rejected == []


async def test_arr_ssl_verify_false_trusts_every_app_that_has_no_switch_of_its_own(
    bus: tuple[object, object], nats_url: str, database_url: str, media: Path, tmp_path: Path
) -> None:
    nc, js = bus
    settings = service_settings(nats_url, database_url, media, ssl_verify=False)
    arr = await start(nc, js, settings, media)  # type: ignore[arg-type]
    try:
        fake = FakeArr(kind="radarr", root="/movies", local_root=media)
        async with serving(fake.build(), certificate=self_signed(tmp_path)) as url:
            status = await set_up(arr, ArrApp.RADARR, url, fake.api_key)
            assert status.ssl_verify is False
            assert (await check(arr, ArrApp.RADARR)).ok
    finally:
        await arr.stop()


async def test_a_url_to_a_metadata_service_or_outside_the_media_paths_is_refused(
    arr: ArrService, tmp_path: Path
) -> None:
    with pytest.raises(BadRequest, match="link-local or cloud metadata"):
        await set_up(arr, ArrApp.SONARR, "http://169.254.169.254/", "key")
    from librarrarian_contracts.sources import PathMapping

    with pytest.raises(BadRequest, match="outside the media paths"):
        await set_up(
            arr,
            ArrApp.SONARR,
            "http://127.0.0.1:8989",
            "key",
            mappings=(PathMapping(server="/tv", local="/etc"),),
        )
