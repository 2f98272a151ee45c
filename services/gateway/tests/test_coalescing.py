"""Gathering a storm into one message, with the time given (no clock)."""

from __future__ import annotations

from librarrarian_gateway.notify.coalescing import LISTED, Coalescer, Notice


def test_a_storm_within_the_window_is_one_message_that_says_how_many() -> None:
    coalescer = Coalescer()
    for n in range(25):
        coalescer.add(Notice("job_failed", f"/m/{n}.mkv: broken"), now=100.0 + n * 0.1)
    assert coalescer.due(159.9, 60) == []
    (message,) = coalescer.due(160.0, 60)
    assert message.title == "25 jobs failed for good" and message.notices == 25
    assert message.body.splitlines()[:2] == ["/m/0.mkv: broken", "/m/1.mkv: broken"]
    assert len(message.body.splitlines()) == LISTED + 1
    assert message.body.endswith("… and 15 more")
    assert coalescer.due(1000.0, 60) == []


def test_each_event_has_its_own_window_and_a_later_notice_opens_a_new_one() -> None:
    coalescer = Coalescer()
    coalescer.add(Notice("node_offline", "box stopped"), now=0.0)
    coalescer.add(Notice("job_failed", "/m/a.mkv: broken"), now=5.0)
    (offline,) = coalescer.due(10.0, 10)
    assert (offline.title, offline.body) == ("An encoder node went offline", "box stopped")
    coalescer.add(Notice("node_offline", "tower stopped"), now=11.0)
    (failed,) = coalescer.due(15.0, 10)
    assert failed.title == "A job failed for good"
    assert coalescer.due(16.0, 10) == []
    (again,) = coalescer.due(16.0, 5)  # a shorter window set meanwhile closes the open one sooner
    assert again.body == "tower stopped"
