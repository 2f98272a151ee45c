"""Which machine a media server runs on, told by addresses: the scanner gives the addresses of the server's
machine (its URL's host resolved; on loopback, the scanner's own machine's addresses), and a node is on that
machine when one of them is one of its own interfaces' addresses.

Loopback and link-local addresses are never compared: every machine has 127.0.0.1, and a link-local address
is unique only on its link. A node in a container sees its container's addresses, not the host's, so such a
node says it by its setting (``SAME_MACHINE_AS_MEDIA_SERVER``) instead.
"""

from __future__ import annotations

import ipaddress
import socket

import psutil


def _usable(raw: str) -> str | None:
    try:
        address = ipaddress.ip_address(raw.split("%")[0])
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    address = mapped or address
    if address.is_loopback or address.is_link_local or address.is_unspecified or address.is_multicast:
        return None
    return str(address)


def own_addresses() -> frozenset[str]:
    """The IP addresses of this machine's interfaces (as this process sees them), loopback left out."""
    found = set()
    for addresses in psutil.net_if_addrs().values():
        for entry in addresses:
            if entry.family in (socket.AF_INET, socket.AF_INET6):
                usable = _usable(entry.address)
                if usable:
                    found.add(usable)
    return frozenset(found)


def host_addresses(host: str) -> tuple[str, ...]:
    """The addresses of the machine ``host`` names: its resolved addresses, and for a loopback host (this
    machine) this machine's own. Blocking (the resolver): call it in a thread."""
    host = host.strip().strip("[]")
    try:
        resolved = {str(info[4][0]) for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        return ()
    found: set[str] = set()
    for raw in resolved:
        if ipaddress.ip_address(raw.split("%")[0]).is_loopback:
            found |= own_addresses()
        elif usable := _usable(raw):
            found.add(usable)
    return tuple(sorted(found))
