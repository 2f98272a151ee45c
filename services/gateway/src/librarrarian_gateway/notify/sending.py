"""Sending one message to every notification URL through Apprise (blocking, so in a thread). Apprise's own
errors and logs name the URL; what this module returns never does."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import apprise

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delivery:
    targets: int
    sent: bool


def _notify(urls: list[str], title: str, body: str) -> bool:
    sender = apprise.Apprise()
    for url in urls:
        sender.add(url)
    return bool(sender.notify(body=body, title=title))


async def send(urls: list[str], title: str, body: str) -> Delivery:
    if not urls:
        return Delivery(0, False)
    sent = await asyncio.to_thread(_notify, urls, title, body)
    if not sent:
        log.warning("notification %r: not every target took it", title)
    return Delivery(len(urls), sent)
