"""Ride out a Redis outage: back off with a cap, and log it once per process.

Every background loop (poller, consumers, ticker, delivery lanes) meets the same outage;
the first loop to meet it logs it, the last one to recover logs its end, so an outage
is two log lines however many loops and retries there are.
"""

from __future__ import annotations

import asyncio
import random
import time

import structlog

from workers.waiting import wait_event

log = structlog.get_logger(__name__)


class _ProcessReport:
    """Which loops of this process currently see Redis down."""

    def __init__(self) -> None:
        self._down: set[str] = set()
        self._since = 0.0

    def down(self, loop: str, error: Exception) -> None:
        if not self._down:
            self._since = time.monotonic()
            log.error(
                "redis_unavailable",
                loop=loop,
                error=str(error),
                hint="retrying with backoff; check FTWATCH_REDIS_URL and the server",
            )
        self._down.add(loop)

    def up(self, loop: str) -> None:
        if loop not in self._down:
            return
        self._down.discard(loop)
        if not self._down:
            log.info(
                "redis_available_again", after_seconds=round(time.monotonic() - self._since, 1)
            )


_REPORT = _ProcessReport()


class Outage:
    """One loop's backoff while Redis is down; reports to the process-wide log."""

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
        _REPORT.down(self._name, error)
        self._failures += 1
        delay = min(self._cap, self._base * 2 ** min(self._failures, 10))
        delay *= random.uniform(0.5, 1.0)  # jitter: replicas do not retry in lockstep
        await wait_event(stop, delay)

    def ended(self) -> None:
        if self._failures:
            _REPORT.up(self._name)
        self._failures = 0
