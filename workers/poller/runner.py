"""The poller loop of one replica: claim due jobs, poll them concurrently, give them back."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import structlog
from redis.exceptions import RedisError

from service.metrics import Metrics
from service.settings import Settings
from service.store.jobs import JobStore, LeaseLost
from service.store.schedule import Schedule, now_ms
from service.upstream.client import UpstreamClient
from service.upstream.errors import NotFound, UpstreamError
from workers.outage import Outage
from workers.poller.cadence import poll_delay
from workers.poller.discovery import discover
from workers.poller.job_poll import JobPoller

log = structlog.get_logger(__name__)

# How often the loop looks for due jobs: bounds how late a nudged (webhook) job is seen.
TICK_SECONDS = 0.1


class Poller:
    """Polls every due job this replica can lease, at most `poll_concurrency` at a time."""

    def __init__(
        self,
        client: UpstreamClient,
        job_poller: JobPoller,
        *,
        schedule: Schedule,
        jobs: JobStore,
        metrics: Metrics,
        settings: Settings,
    ) -> None:
        self._client = client
        self._jobs = jobs
        self._job_poller = job_poller
        self._schedule = schedule
        self._metrics = metrics
        self._settings = settings
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_discovery = 0.0
        self._outage = Outage("poller")
        self._errors: dict[str, str] = {}

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until `stop` is set, then let in-flight polls finish (bounded)."""
        while not stop.is_set():
            try:
                await self._maybe_discover()
                await self._claim_and_spawn()
                self._outage.ended()
            except RedisError as exc:
                await self._outage.wait(exc, stop)
                continue
            except UpstreamError as exc:
                log.warning("discovery_failed", error=str(exc))
            await _wait(stop, TICK_SECONDS)
        await self._drain()

    async def _maybe_discover(self) -> None:
        if time.monotonic() < self._next_discovery:
            return
        self._next_discovery = time.monotonic() + self._settings.discovery_interval
        self._metrics.expire_job_series()
        if not await self._schedule.hold_discovery(self._settings.discovery_interval * 2):
            self._metrics.jobs_watched.clear()  # the discovering replica reports the census
            return
        added = await discover(self._client, self._schedule, self._settings)
        if added:
            log.info("jobs_discovered", added=added)
        await self._census()

    async def _census(self) -> None:
        """Set ftwatch_jobs_watched{status} from every watched job's last known status."""
        statuses = await self._jobs.statuses(await self._schedule.watched_ids())
        self._metrics.jobs_watched.clear()
        for status, count in Counter(s or "unknown" for s in statuses).items():
            self._metrics.jobs_watched.labels(status).set(count)

    async def _claim_and_spawn(self) -> None:
        free = self._settings.poll_concurrency - len(self._tasks)
        if free <= 0:
            return
        claimed, claimed_at = await self._schedule.claim(free, self._settings.lease_seconds)
        for job_id in claimed:
            task = asyncio.create_task(self._poll(job_id, claimed_at), name=f"poll {job_id}")
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _poll(self, job_id: str, claimed_at: int) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job_id):
            delay = await self._poll_once(job_id)
            try:
                due = None if delay is None else now_ms() + int(delay * 1000)
                await self._schedule.release(job_id, due, claimed_at)
            except RedisError as exc:
                # The lease expires by itself and the job falls due again: nothing lost.
                log.warning("release_failed", error=str(exc))

    async def _poll_once(self, job_id: str) -> float | None:
        """Poll and return the delay to the next poll (None drops the job)."""
        settings = self._settings
        try:
            result = await self._job_poller.poll(job_id, self._schedule.owner)
        except NotFound as exc:
            log.error("job_not_found", error=str(exc), hint="the job is no longer watched")
            return None
        except UpstreamError as exc:
            self._report_once(job_id, exc)
            factor = 1.0 if exc.retryable else settings.idle_poll_factor
            return settings.poll_interval * factor
        except LeaseLost:
            log.info("lease_lost", hint="another replica polls this job now")
            return settings.poll_interval
        except RedisError as exc:
            log.warning("store_unavailable", error=str(exc), hint="events are fetched again")
            return settings.poll_interval
        self._errors.pop(job_id, None)
        if result.appended:
            log.debug("events_appended", count=result.appended, status=result.status)
        return poll_delay(result.status, settings.poll_interval, settings.idle_poll_factor)

    def _report_once(self, job_id: str, exc: UpstreamError) -> None:
        """Log a job's upstream error when it first appears or changes, not every poll."""
        key = f"{exc.status}:{exc.code}"
        if self._errors.get(job_id) != key:
            self._errors[job_id] = key
            log.error("poll_failed", error=str(exc), status=exc.status, code=exc.code)

    async def _drain(self) -> None:
        """Give in-flight polls a bounded time; a cancelled one's lease simply expires."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=self._settings.lease_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
