"""One supervisor for every background loop: a crash is logged, counted and restarted.

A loop is a name and a factory making a fresh coroutine for each run. A run that raised
is restarted after an exponential backoff with jitter, however often it crashes: a
crash-looping loop never gives up silently, it shows in `/readyz` and in
`ftwatch_loop_restarts_total{loop}`. A run that returned (its stop was set) or was
cancelled is not restarted. `stop()` ends every loop within a bound.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, Literal

import structlog
from prometheus_client import Counter

from workers.waiting import wait_event

log = structlog.get_logger(__name__)

LoopFactory = Callable[[], Coroutine[Any, Any, None]]
LoopState = Literal["running", "restarting", "stopped"]
# Sleeps the backoff; returns early (truthy) when the supervisor's stop is set.
Pause = Callable[[float], Awaitable[object]]


@dataclass(frozen=True)
class RestartPolicy:
    """Backoff and readiness numbers; tests shrink them."""

    # 0.5 s: a one-off crash (a race, a bad reply) is retried almost at once.
    base: float = 0.5
    # 30 s: a crash loop costs one log line per loop every 15-30 s, and a loop whose
    # cause went away is back within 30 s (readiness probes look every 10 s).
    cap: float = 30.0
    # A run that lasted a minute was healthy: its next crash starts over from `base`.
    stable_after: float = 60.0
    # More than `flap_limit` crashes within `flap_window` is not ready even between
    # crashes (a loop that dies every 40 s after a short run is running most of the time).
    flap_window: float = 300.0
    flap_limit: int = 3

    def delay(self, attempt: int, jitter: float) -> float:
        """Backoff before restart `attempt` (1, 2, ...); `jitter` is uniform in [0, 1).

        Equal jitter (half fixed, half random): replicas crashing on the same shared
        data do not retry in lockstep, and no delay drops below half its step.
        """
        step = min(self.cap, self.base * 2.0 ** min(attempt - 1, 30))
        return step * (0.5 + 0.5 * jitter)


@dataclass
class _Loop:
    """One supervised loop: its factory, task and crash history."""

    name: str
    factory: LoopFactory
    state: LoopState = "running"
    crashes: int = 0
    attempt: int = 0
    last_error: str = ""
    recent: deque[float] = field(default_factory=deque)  # monotonic times of crashes
    task: asyncio.Task[None] | None = None


class Supervisor:
    """Owns the named background loops of a process (or of one worker in tests)."""

    def __init__(
        self,
        stop: asyncio.Event,
        restarts: Counter,
        *,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
        pause: Pause | None = None,
    ) -> None:
        self.stop_event = stop
        self.policy = policy or RestartPolicy()
        self._restarts = restarts
        self._clock = clock
        self._jitter = jitter
        self._pause = pause or functools.partial(wait_event, stop)
        self._loops: dict[str, _Loop] = {}

    def start(self, name: str, factory: LoopFactory) -> None:
        """Run `factory()` under supervision from now on; names are unique."""
        if name in self._loops:
            raise ValueError(f"loop {name!r} is supervised already")
        loop = self._loops[name] = _Loop(name, factory)
        self._restarts.labels(name)  # the series exists at 0 before any crash
        loop.task = asyncio.create_task(self._keep(loop), name=f"loop {name}")

    def states(self) -> dict[str, LoopState]:
        """Each loop's state, for `/readyz`."""
        return {name: loop.state for name, loop in self._loops.items()}

    def problems(self) -> list[str]:
        """Why the loops are not ready: one reason per loop in backoff or crash-looping."""
        return [p for loop in self._loops.values() if (p := self._problem(loop))]

    async def wait(self) -> None:
        """Until every loop has ended; cancelled, it cancels them (no orphan tasks)."""
        tasks = self._tasks()
        if not tasks:
            return
        try:
            await asyncio.wait(tasks)  # unlike gather, one cancelled loop ends nothing else
        except asyncio.CancelledError:
            await self._cancel(self._tasks())
            raise

    async def stop(self, grace: float) -> None:
        """Set stop and give the loops `grace` seconds to return, then cancel them."""
        self.stop_event.set()
        tasks = self._tasks()
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace)
        for task in pending:
            log.warning("loop_stop_timeout", task=task.get_name(), grace=grace)
        await self._cancel(pending)

    def _tasks(self) -> set[asyncio.Task[None]]:
        return {loop.task for loop in self._loops.values() if loop.task is not None}

    @staticmethod
    async def _cancel(tasks: set[asyncio.Task[None]]) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _keep(self, loop: _Loop) -> None:
        """Run the loop, restarting it after each crash until it returns or stop is set."""
        while True:
            started = self._clock()
            try:
                await loop.factory()
            except asyncio.CancelledError:
                loop.state = "stopped"  # shutdown's cancel, or the loop's own: not a crash
                raise
            except Exception as exc:  # noqa: BLE001 - every crash restarts; logged in _crashed
                delay = self._crashed(loop, exc, self._clock() - started)
            else:
                self._returned(loop)
                return
            loop.state = "restarting"
            await self._pause(delay)
            if self.stop_event.is_set():
                loop.state = "stopped"
                return
            self._restarts.labels(loop.name).inc()
            loop.state = "running"

    def _crashed(self, loop: _Loop, exc: Exception, ran: float) -> float:
        """Record the crash, log it once; returns the backoff before the restart."""
        if ran >= self.policy.stable_after:
            loop.attempt = 0  # it had recovered: this is a new incident, not the same one
        loop.attempt += 1
        loop.crashes += 1
        loop.last_error = f"{exc.__class__.__name__}: {exc}"[:200]
        loop.recent.append(self._clock())
        self._prune(loop)
        delay = self.policy.delay(loop.attempt, self._jitter())
        log.error(
            "loop_crashed",
            loop=loop.name,
            attempt=loop.attempt,
            next_delay=round(delay, 3),
            exc_info=exc,
        )
        return delay

    def _returned(self, loop: _Loop) -> None:
        loop.state = "stopped"
        if not self.stop_event.is_set():
            # Loops return when stop is set; one that ends by itself stops its work.
            log.warning("loop_returned", loop=loop.name, hint="not restarted: it returned")

    def _problem(self, loop: _Loop) -> str | None:
        if loop.state == "restarting":
            return f"loop {loop.name} restarting: {_times(loop.crashes)}, last: {loop.last_error}"
        self._prune(loop)
        if loop.state == "running" and len(loop.recent) > self.policy.flap_limit:
            return (
                f"loop {loop.name} crash-looping: {_times(len(loop.recent))} in the last"
                f" {self.policy.flap_window:g}s, last: {loop.last_error}"
            )
        return None

    def _prune(self, loop: _Loop) -> None:
        """Forget crashes older than the flap window (bounds the history, too)."""
        while loop.recent and self._clock() - loop.recent[0] > self.policy.flap_window:
            loop.recent.popleft()


def _times(count: int) -> str:
    return f"crashed {count} time" + ("" if count == 1 else "s")
