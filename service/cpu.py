"""CPU-heavy request work (parsing a rules file) in a worker process, off the event loop.

A thread would not do: the work is Python holding the GIL, and libyaml composes aliases
in C without releasing it. Measured with four hostile validations at once (issue 16, F1):
the worst /healthz round trip was 1.6 s inline, 150-280 ms with one or two threads, and
22 ms with one worker process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from aiohttp import web

T = TypeVar("T")
# One process: the service's own loop needs the other core of a small pod, and a
# bounded parse takes at most ~0.3 s, so four requests wait ~1 s in all.
WORKERS = 1
# Jobs running or queued; beyond it the caller is told to come back (each holds a body).
MAX_PENDING = 8


class CpuBusy(Exception):
    """MAX_PENDING jobs are already running or queued, or the worker process died."""


class CpuPool:
    """A small process pool with a bound on the work it holds."""

    def __init__(self, workers: int = WORKERS, max_pending: int = MAX_PENDING) -> None:
        self._workers = workers
        self._max_pending = max_pending
        self._pending = 0
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn, not fork: the service has threads (and a Redis child) a fork would copy
        # mid-state. The process starts at the first job and then stays.
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self._workers, mp_context=context)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """`fn(*args)` in the worker process; CpuBusy when the pool is full or broken."""
        if self._pending >= self._max_pending:
            raise CpuBusy(f"{self._pending} jobs are running or queued")
        self._pending += 1
        try:
            return await asyncio.wrap_future(self._executor.submit(fn, *args))
        except BrokenProcessPool:
            # The worker died (killed, out of memory): a fresh pool for the next caller.
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._new_executor()
            raise CpuBusy("the worker process died; retry") from None
        finally:
            self._pending -= 1

    def close(self) -> None:
        """Stop the worker without waiting for a job in progress (it is bounded anyway)."""
        self._executor.shutdown(wait=False, cancel_futures=True)


CPU = web.AppKey("cpu", CpuPool)


async def cpu_ctx(app: web.Application) -> AsyncIterator[None]:
    """The app's CpuPool, from startup to cleanup."""
    app[CPU] = CpuPool()
    yield
    app[CPU].close()
