"""Ride out a Redis outage: log it once, back off with a cap, log when it ends."""

from __future__ import annotations

import asyncio
import contextlib
import random

import structlog

log = structlog.get_logger(__name__)


class Outage:
    """Tracks one loop's view of Redis being down, so the outage is logged once."""

    def __init__(self, loop_name: str, *, base: float = 0.1, cap: float = 5.0) -> None:
        self._name = loop_name
        self._base = base
        self._cap = cap
        self._failures = 0

    @property
    def active(self) -> bool:
        return self._failures > 0

    async def wait(self, error: Exception, stop: asyncio.Event) -> None:
        """Record a failure and sleep the backoff (or until stop is set)."""
        if self._failures == 0:
            log.error(
                "redis_unavailable",
                loop=self._name,
                error=str(error),
                hint="retrying with backoff; check FTWATCH_REDIS_URL and the server",
            )
        self._failures += 1
        delay = min(self._cap, self._base * 2 ** min(self._failures, 10))
        delay *= random.uniform(0.5, 1.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=delay)

    def ended(self) -> None:
        if self._failures:
            log.info("redis_available_again", loop=self._name, failures=self._failures)
        self._failures = 0
