"""Sending one message to every notification URL through Apprise (blocking, so in a thread). Each URL's
server is checked again first (:mod:`destinations`: its name may resolve elsewhere since it was added), and
redirects are off. Apprise's own errors and logs name the URL; what this module returns and logs never does."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import apprise
from librarrarian_runtime.errors import BadRequest
from librarrarian_runtime.outbound import PrivateServers

from .destinations import NotAnAppriseUrl, guarded

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    targets: int
    sent: bool


def _notify(urls: list[str], title: str, body: str, allowed: PrivateServers) -> bool:
    sender = apprise.Apprise()
    refused = 0
    for number, url in enumerate(urls, 1):
        try:
            sender.add(guarded(url, allowed))
        except (NotAnAppriseUrl, BadRequest) as error:  # the reason names a host or address, not the URL
            refused += 1
            log.warning("notification %r: not sent to URL %d of %d: %s", title, number, len(urls), error)
    sent = bool(sender.notify(body=body, title=title)) if len(sender) else False
    return sent and not refused


async def send(urls: list[str], title: str, body: str, allowed: PrivateServers) -> Delivery:
    if not urls:
        return Delivery(0, False)
    sent = await asyncio.to_thread(_notify, urls, title, body, allowed)
    if not sent:
        log.warning("notification %r: not every target took it", title)
    return Delivery(len(urls), sent)
