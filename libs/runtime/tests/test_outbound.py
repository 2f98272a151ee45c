"""Where requests to user-named servers may go: metadata and link-local addresses never, this machine and
the home network as ``PRIVATE_SERVERS`` says, checked at each request; a redirect is never followed."""

from __future__ import annotations

import ipaddress

import httpx
import pytest
from librarrarian_runtime import outbound
from librarrarian_runtime.errors import BadRequest
from librarrarian_runtime.outbound import PrivateServers, RefusedAddress
from librarrarian_testing.media_servers.recording import serving
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

NONE, LAN, ALL = PrivateServers

# address -> the most permissive setting that still refuses it (None: allowed even with NONE)
CASES = {
    "169.254.169.254": ALL,  # the cloud metadata service
    "fd00:ec2::254": ALL,
    "::ffff:169.254.169.254": ALL,  # the same, in an IPv4-mapped disguise
    "100.100.100.200": ALL,
    "169.254.10.1": ALL,  # link-local
    "fe80::1": ALL,
    "0.0.0.0": ALL,
    "224.0.0.1": ALL,
    "127.0.0.1": LAN,  # this machine
    "::1": LAN,
    "192.168.1.10": NONE,  # the home network
    "10.0.0.5": NONE,
    "172.16.3.4": NONE,
    "100.64.1.1": NONE,
    "fd12:3456::1": NONE,
    "93.184.216.34": None,  # public
    "2606:4700::1111": None,
}
ORDER = (NONE, LAN, ALL)


@pytest.mark.parametrize(("address", "refused_up_to"), CASES.items())
def test_each_kind_of_address_is_allowed_only_as_far_as_the_setting_says(
    address: str, refused_up_to: PrivateServers | None
) -> None:
    for setting in ORDER:
        refused = refused_up_to is not None and ORDER.index(setting) <= ORDER.index(refused_up_to)
        if refused:
            with pytest.raises(RefusedAddress):
                outbound.check_address(ipaddress.ip_address(address), setting)
        else:
            outbound.check_address(ipaddress.ip_address(address), setting)


def test_urls_are_checked_by_what_their_names_resolve_to() -> None:
    with pytest.raises(RefusedAddress, match="PRIVATE_SERVERS=all"):
        outbound.check_url("http://localhost:8096/", LAN)
    outbound.check_url("http://localhost:8096/", ALL)
    with pytest.raises(RefusedAddress, match="never allowed"):
        outbound.check_url("http://metadata.google.internal/computeMetadata/v1/", ALL)
    with pytest.raises(RefusedAddress, match="never allowed"):
        outbound.check_url("http://[::ffff:a9fe:a9fe]/latest/meta-data/", ALL)
    for bad in ("file:///etc/passwd", "gopher://x/", "http://", "not a url"):
        with pytest.raises(BadRequest, match="not an http"):
            outbound.check_url(bad, ALL)
    with pytest.raises(BadRequest, match="cannot be resolved"):
        outbound.check_url("http://no-such-host.invalid/", ALL)


def test_hosts_of_other_protocols_are_checked_the_same_way() -> None:
    """A host as an SMTP server or a chat server's URL syntax names it: bracketed, upper case, dotted."""
    with pytest.raises(RefusedAddress, match="PRIVATE_SERVERS=all"):
        outbound.check_host("[::1]", 25, LAN)
    outbound.check_host("[::1]", 25, ALL)
    outbound.check_host("LOCALHOST.", 587, ALL)
    with pytest.raises(RefusedAddress, match="never allowed"):
        outbound.check_host("Metadata.", 80, ALL)
    with pytest.raises(RefusedAddress, match="never allowed"):
        outbound.check_host("169.254.169.254", 80, ALL)
    with pytest.raises(BadRequest, match="no host"):
        outbound.check_host(" ", 80, ALL)


def test_same_server_means_scheme_host_and_port() -> None:
    assert outbound.same_server("http://jf.lan:8096/", "http://JF.lan:8096/web")
    assert not outbound.same_server("http://jf.lan:8096/", "http://evil.example:8096/")
    assert not outbound.same_server("http://jf.lan:8096/", "https://jf.lan:8096/")
    assert not outbound.same_server("http://jf.lan:8096/", "http://jf.lan:8097/")


async def test_the_guarded_client_checks_every_request_and_follows_no_redirect() -> None:
    seen: list[str] = []

    async def hello(request: Request) -> Response:
        seen.append(request.url.path)
        return JSONResponse({"ok": True})

    async def elsewhere(request: Request) -> Response:
        seen.append(request.url.path)
        return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)

    app = Starlette(routes=[Route("/hello", hello), Route("/elsewhere", elsewhere)])
    async with serving(app) as url:
        async with outbound.client(LAN, timeout=5) as refused:
            with pytest.raises(RefusedAddress):
                await refused.get(f"{url}/hello")
        assert seen == []  # refused before anything was sent
        async with outbound.client(ALL, timeout=5) as allowed:
            assert (await allowed.get(f"{url}/hello")).json() == {"ok": True}
            redirected = await allowed.get(f"{url}/elsewhere")
            assert redirected.status_code == 302  # answered, not followed
            with pytest.raises(RefusedAddress):
                await allowed.get(redirected.headers["location"])  # and following it by hand is refused
    assert seen == ["/hello", "/elsewhere"]
    assert isinstance(outbound.client(ALL, timeout=1)._transport, outbound.GuardedTransport)
    assert not httpx.AsyncClient().follow_redirects  # httpx's default, which the guard relies on too
