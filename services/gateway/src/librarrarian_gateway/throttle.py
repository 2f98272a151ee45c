"""Failed logins, counted per client address and per user name: too many within a window locks that address
or that name out for a short while (answered 429 with ``Retry-After``), so passwords cannot be tried at
speed, while a user who mistyped waits a minute at most.

Kept in memory: the gateway runs as one process, and a restart forgetting the counts costs an attacker a
restart of ours, which they cannot cause. (With several gateway replicas each would count on its own, and
the limits would be per replica.) The number of addresses and names remembered is bounded.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    failures: int  # this many failures within ``window`` seconds …
    window: float
    lockout: float  # … lock the key out for this long


PER_ADDRESS = Limit(failures=20, window=300, lockout=60)
PER_USER = Limit(failures=5, window=300, lockout=60)
MAX_KEYS = 10_000
MAX_NAME = 200


class Throttle:
    def __init__(
        self,
        per_address: Limit = PER_ADDRESS,
        per_user: Limit = PER_USER,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.limits = {"address": per_address, "user": per_user}
        self.clock = clock
        self.max_keys = max_keys
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._locked: dict[tuple[str, str], float] = {}

    def _keys(self, address: str, user: str) -> list[tuple[str, str]]:
        return [("address", address), ("user", user.casefold()[:MAX_NAME])]

    def retry_after(self, address: str, user: str) -> int | None:
        """Seconds until this address and name may try again; None: now."""
        now = self.clock()
        waits = [
            until - now for key in self._keys(address, user) if (until := self._locked.get(key, 0)) > now
        ]
        return math.ceil(max(waits)) if waits else None

    def failed(self, address: str, user: str) -> None:
        now = self.clock()
        for key in self._keys(address, user):
            limit = self.limits[key[0]]
            seen = self._failures.setdefault(key, deque())
            seen.append(now)
            while seen and seen[0] <= now - limit.window:
                seen.popleft()
            if len(seen) >= limit.failures:
                self._locked[key] = now + limit.lockout
                del self._failures[key]
        self._bound(now)

    def succeeded(self, address: str, user: str) -> None:
        """A right password clears the name's failures (the address keeps its count: one good account
        must not reopen an address that is trying others)."""
        self._failures.pop(self._keys(address, user)[1], None)

    def _bound(self, now: float) -> None:
        if len(self._failures) + len(self._locked) <= self.max_keys:
            return
        self._locked = {k: until for k, until in self._locked.items() if until > now}
        longest = max(limit.window for limit in self.limits.values())
        self._failures = {k: seen for k, seen in self._failures.items() if seen[-1] > now - longest}
        while len(self._failures) > self.max_keys // 2:  # still too many: forget the oldest first
            del self._failures[next(iter(self._failures))]
