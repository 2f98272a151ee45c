"""Gathering a storm into one message: pure policy, given the time, so it is tested without a clock.

The first notice of an event opens a window for that event; every notice of it until the window closes
joins the same message, which says how many there were and lists the first few. The window's length is the
one set when it is looked at, so a change of the setting applies to the windows open already.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from librarrarian_contracts.settings import NotifyEvent

LISTED = 10  # lines a message lists; the rest are counted

TITLES: dict[NotifyEvent, tuple[str, str]] = {  # one, many ({n})
    "job_failed": ("A job failed for good", "{n} jobs failed for good"),
    "node_offline": ("An encoder node went offline", "{n} encoder nodes went offline"),
    "queue_drained": ("The queue is empty", "The queue emptied {n} times"),
    "backup_failed": ("A backup failed", "{n} backups failed"),
    "version_mismatch": (
        "A node runs another version than the dashboard",
        "{n} nodes run another version than the dashboard",
    ),
}


@dataclass(frozen=True)
class Notice:
    event: NotifyEvent
    line: str  # one line on what happened: a path and its reason, a node's name


@dataclass(frozen=True)
class Message:
    event: NotifyEvent
    title: str
    body: str
    notices: int


@dataclass
class Window:
    opened_at: float
    lines: list[str] = field(default_factory=list)


class Coalescer:
    def __init__(self) -> None:
        self.open: dict[NotifyEvent, Window] = {}

    def add(self, notice: Notice, now: float) -> None:
        window = self.open.setdefault(notice.event, Window(opened_at=now))
        window.lines.append(notice.line)

    def due(self, now: float, window_seconds: float) -> list[Message]:
        """The messages of the windows that closed by ``now``; they are forgotten here."""
        closed = [event for event, window in self.open.items() if window.opened_at + window_seconds <= now]
        return [message(event, self.open.pop(event).lines) for event in closed]


def message(event: NotifyEvent, lines: list[str]) -> Message:
    one, many = TITLES[event]
    title = one if len(lines) == 1 else many.format(n=len(lines))
    body = "\n".join(lines[:LISTED])
    if len(lines) > LISTED:
        body += f"\n… and {len(lines) - LISTED} more"
    return Message(event, title, body, len(lines))
