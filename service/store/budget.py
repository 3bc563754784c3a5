"""The upstream request budget: a token bucket in Redis that every replica draws from.

Plugged into UpstreamClient's `budget` hook, it holds each request until the shared rate
(FTWATCH_MAX_REQUESTS_PER_SECOND) allows it, whichever replica sends it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from service.store import keys
from service.store.scripts import Scripts

Sleep = Callable[[float], Awaitable[None]]


class RequestBudget:
    """`await budget()` returns when one more request fits the shared rate."""

    def __init__(
        self,
        scripts: Scripts,
        rate: float,
        *,
        burst: float | None = None,
        key: str = keys.REQUEST_BUDGET,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0")
        self.rate = rate
        # One second's worth (at least one request): short bursts, yet any window of a
        # second or more stays within the rate.
        self.burst = burst if burst is not None else max(1.0, rate)
        self._scripts = scripts
        self._key = key
        self._sleep = sleep
        self.waited = 0.0  # seconds spent waiting, for tests and benchmarks

    async def reserve(self) -> float:
        """Reserve one request; seconds to wait before sending it (0: now)."""
        micros = await self._scripts.take_budget(keys=[self._key], args=[self.rate, self.burst])
        return int(micros) / 1_000_000

    async def __call__(self) -> None:
        wait = await self.reserve()
        if wait > 0:
            self.waited += wait
            await self._sleep(wait)
