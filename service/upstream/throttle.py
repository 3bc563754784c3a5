"""A client-wide pause after a 429: every request waits until the instant upstream named.

The core is plain arithmetic on an injected clock; only `wait` sleeps (on an injected sleep),
so tests drive it with a fake clock and no real waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class Throttle:
    """Holds requests until `blocked_until` (monotonic seconds); later blocks only extend it."""

    def __init__(self, *, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self._clock = clock
        self._sleep = sleep
        self._until = float("-inf")

    @property
    def blocked_until(self) -> float:
        return self._until

    def now(self) -> float:
        return self._clock()

    def block_for(self, seconds: float) -> float:
        """Hold every request for `seconds` from now; return the resulting instant."""
        return self.block_until(self._clock() + max(seconds, 0.0))

    def block_until(self, instant: float) -> float:
        # Never shorten: two 429s in flight must leave the later instant in force.
        self._until = max(self._until, instant)
        return self._until

    def remaining(self) -> float:
        """Seconds a request starting now must still wait (0 when open)."""
        return max(0.0, self._until - self._clock())

    async def wait(self) -> float:
        """Sleep until open; re-check after each sleep, since a new 429 may have extended it."""
        waited = 0.0
        while (delay := self.remaining()) > 0:
            await self._sleep(delay)
            waited += delay
        return waited
