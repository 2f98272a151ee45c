"""Where the cluster may send requests on a user's say-so (Plex, Jellyfin, the Arr apps): never to the cloud
metadata services or link-local addresses, to this machine and the home network only as the
``PRIVATE_SERVERS`` setting allows, never by a redirect to another host.

A URL is checked when it is set and again at every request (the name may resolve elsewhere by then), by
:class:`GuardedTransport` for httpx and :func:`check_url` for anything else. The address ranges are the
standard library's (``ipaddress``); a name resolves to every address the system resolver gives, and all of
them must be allowed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from enum import StrEnum
from typing import Any

import httpx

from .errors import BadRequest


class PrivateServers(StrEnum):
    """What ``PRIVATE_SERVERS`` allows besides public addresses."""

    NONE = "none"  # public addresses only
    LAN = "lan"  # and the home network: 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7
    ALL = "all"  # and this machine (loopback): a media server on the same host


# Cloud metadata endpoints that are not link-local (those are refused as link-local already).
METADATA_HOSTS = frozenset({"metadata.google.internal", "metadata", "instance-data"})
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
SETTING = "PRIVATE_SERVERS"


class RefusedAddress(BadRequest):
    """The URL points where requests may not go; the message says why and which setting would allow it."""


def check_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allowed: PrivateServers) -> None:
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES or address.is_link_local:
        raise RefusedAddress(f"{address} is a link-local or cloud metadata address: never allowed")
    if address.is_loopback:  # before "reserved": ::1 lies in a reserved block
        if allowed is not PrivateServers.ALL:
            raise RefusedAddress(f"{address} is this machine: allowed only with {SETTING}=all")
        return
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        raise RefusedAddress(f"{address} is not an address a server can have")
    if address.is_private or address in ipaddress.ip_network("100.64.0.0/10"):
        if allowed is PrivateServers.NONE:
            raise RefusedAddress(f"{address} is on a private network: allowed with {SETTING}=lan or all")
        return


def _parse(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        raise BadRequest(f"not an http(s) URL: {url!r}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise BadRequest(f"not an http(s) URL: {url!r}")
    return parsed


def _resolve(host: str, port: int) -> list[Any]:
    try:
        return [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]
    except (socket.gaierror, UnicodeError) as error:
        raise BadRequest(f"{host} cannot be resolved: {error}") from None


def check_url(url: str, allowed: PrivateServers) -> None:
    """Refuse (``RefusedAddress``, a 400) a URL whose host is, or resolves to, an address not allowed."""
    parsed = _parse(url)
    check_host(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80), allowed)


def check_host(host: str, port: int, allowed: PrivateServers) -> None:
    """Refuse (``RefusedAddress``) a host name or address (``[::1]`` too) that is, or resolves to, an address
    not allowed: for what speaks another protocol than HTTP (SMTP, a chat server's own), or names its host
    in another way than an http(s) URL."""
    host = host.strip().strip("[]").lower().rstrip(".")
    if not host:
        raise BadRequest("no host given")
    if host in METADATA_HOSTS:
        raise RefusedAddress(f"{host} is a cloud metadata service: never allowed")
    for raw in _resolve(host, port):
        check_address(ipaddress.ip_address(raw.split("%")[0]), allowed)


def same_server(a: str, b: str) -> bool:
    """Whether two URLs name the same server (scheme, host and port): a secret kept for one may go to the
    other."""
    left, right = _parse(a), _parse(b)
    return (left.scheme, left.host.lower(), left.port) == (right.scheme, right.host.lower(), right.port)


class GuardedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that checks every request's host before sending it (redirects are not followed
    unless the client asks, and a followed one is a new request, checked again)."""

    def __init__(self, allowed: PrivateServers, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.allowed = allowed
        self.inner = inner or httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.to_thread(check_url, str(request.url), self.allowed)
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


def client(allowed: PrivateServers, timeout: float, *, verify: bool = True) -> httpx.AsyncClient:
    """The one way to make an httpx client for servers a user named: guarded, no redirects followed.
    ``verify=False`` accepts any TLS certificate (a self-signed one the user vouched for)."""
    transport = GuardedTransport(allowed, httpx.AsyncHTTPTransport(verify=verify))
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False)
