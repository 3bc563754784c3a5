"""Back-pressure: while the rules fall behind, pollers stop claiming jobs.

Without it a slow or stopped rule worker lets `ftwatch:events` grow until trimming
(MAXLEN) drops entries the rules never saw. The poller checks the `rules` group's backlog
(unread plus unacknowledged entries) and claims nothing while it is above the bound;
claiming resumes once the backlog is back under RESUME_SHARE of the bound, so it does
not flap. Jobs simply fall due later: nothing is lost, upstream keeps every event.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from service.store import keys
from service.store.backlog import stream_backlog
from service.store.scripts import Scripts

log = structlog.get_logger(__name__)

# Resume below this share of the bound (hysteresis).
RESUME_SHARE = 0.8
# How often the backlog is read: bounds the overshoot at one check's worth of polls.
CHECK_SECONDS = 0.5


class BackPressure:
    """`await engaged()` says whether to hold off claiming jobs now."""

    def __init__(
        self,
        scripts: Scripts,
        bound: int,
        *,
        group: str,
        stream: str | None = None,
        check_seconds: float = CHECK_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._scripts = scripts
        self.bound = bound
        self._group = group
        # Every partition's events stream (one on one Redis); their backlogs add up.
        self._streams = [stream] if stream else [keys.events_stream(p) for p in keys.partitions()]
        self._stream = self._streams[0] if len(self._streams) == 1 else keys.events_stream(0) + "*"
        self._check = check_seconds
        self._clock = clock
        self._next = float("-inf")
        self._since = 0.0
        self.active = False
        self.last_backlog = 0

    async def engaged(self) -> bool:
        """True while the backlog is (or was last seen) too large; reads it at most every
        `check_seconds`."""
        if self._clock() < self._next:
            return self.active
        self._next = self._clock() + self._check
        entries = 0
        for stream in self._streams:
            backlog = await stream_backlog(
                self._scripts, stream, self._group, limit=self.bound + 1 - entries
            )
            entries += backlog.entries
            if entries > self.bound:
                break
        self.last_backlog = entries
        if not self.active and entries > self.bound:
            self.active, self._since = True, self._clock()
            log.warning(
                "backpressure_started",
                stream=self._stream,
                group=self._group,
                backlog=entries,
                bound=self.bound,
                hint="rule workers are behind; polling pauses until they catch up",
            )
        elif self.active and backlog.entries <= self.bound * RESUME_SHARE:
            self.active = False
            log.info(
                "backpressure_ended",
                stream=self._stream,
                backlog=entries,
                after_seconds=round(self._clock() - self._since, 1),
            )
        return self.active
