"""The poller loop of one replica: claim due jobs, poll them concurrently, give them back."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping

import structlog
from redis.exceptions import RedisError

from service.metrics import Metrics
from service.models.cadence import Pace, decode, next_poll
from service.models.ident import JobRef
from service.models.lifecycle import is_running
from service.providers.base import Provider
from service.providers.registry import Providers, UnknownProvider
from service.settings import Settings
from service.store.jobs import JobStore, LeaseLost
from service.store.schedule import Schedule
from service.upstream.errors import NotFound, UpstreamError
from workers.outage import Outage
from workers.poller.backpressure import BackPressure
from workers.poller.cadence import Watched, poll_delay, provider_stretches
from workers.poller.discovery import discover
from workers.poller.job_poll import JobPoller, PollResult
from workers.waiting import wait_event

log = structlog.get_logger(__name__)

# How often the loop looks for due jobs: bounds how late a nudged (webhook) job is seen.
TICK_SECONDS = 0.1


class Poller:
    """Polls every due job this replica can lease, at most `poll_concurrency` at a time."""

    def __init__(
        self,
        providers: Providers,
        job_poller: JobPoller,
        *,
        schedule: Schedule,
        jobs: JobStore,
        metrics: Metrics,
        settings: Settings,
        backpressure: BackPressure | None = None,
        rates: Mapping[str, float | None] | None = None,
    ) -> None:
        self._providers = providers
        self._backpressure = backpressure
        self._jobs = jobs
        self._job_poller = job_poller
        self._schedule = schedule
        self._metrics = metrics
        self._settings = settings
        self._tasks: set[asyncio.Task[None]] = set()
        self._next_discovery = 0.0
        self._outage = Outage("poller")
        self._errors: dict[str, str] = {}
        self._stretch: dict[str, float] = {}  # provider → poll-delay factor
        # Each provider's request budget (its own, else FTWATCH_MAX_REQUESTS_PER_SECOND).
        self._rates: Mapping[str, float | None] = rates or {
            name: settings.max_requests_per_second for name in providers
        }
        # Set when a poll ends: its slot is claimed again at once, not at the next tick.
        self._slot_freed = asyncio.Event()
        self._sweep_task: asyncio.Task[None] | None = None

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
            await _wait(self._slot_freed, TICK_SECONDS)
            self._slot_freed.clear()
        await self._drain()

    async def _maybe_discover(self) -> None:
        if time.monotonic() < self._next_discovery or self._sweeping():
            return
        self._next_discovery = time.monotonic() + self._settings.discovery_interval
        self._metrics.expire_job_series()
        self._stretch = {name: await self._schedule.stretch(name) for name in self._providers}
        held = [
            p
            for p in self._providers.values()
            if await self._schedule.hold_discovery(p.name, self._settings.discovery_interval * 2)
        ]
        if not held:
            self._metrics.jobs_watched.clear()  # the discovering replica reports the census
            return
        # Beside the claims: at 10,000 jobs the listing is 100 pages under the request
        # budget, and polls must go on meanwhile.
        self._sweep_task = asyncio.create_task(self._sweep(held), name="jobs sweep")

    def _sweeping(self) -> bool:
        return self._sweep_task is not None and not self._sweep_task.done()

    async def _sweep(self, providers: list[Provider]) -> None:
        """List each provider's jobs (discovery and statuses), then take the census."""
        for provider in providers:
            await self._sweep_one(provider)
        try:
            await self._census()
        except RedisError as exc:  # the claim loop reports the outage itself
            log.info("census_interrupted", error=str(exc))

    async def _sweep_one(self, provider: Provider) -> None:
        with structlog.contextvars.bound_contextvars(provider=provider.name):
            try:
                sweep = await discover(provider, self._schedule, self._settings)
                if sweep.added:
                    log.info("jobs_discovered", added=sweep.added, already_ended=sweep.adopted)
                if sweep.changed:
                    log.debug("statuses_changed", jobs=len(sweep.changed))
            except UpstreamError as exc:
                log.warning("discovery_failed", error=str(exc))
            except RedisError as exc:  # the claim loop reports the outage itself
                log.info("discovery_interrupted", error=str(exc))

    async def _census(self) -> None:
        """Set ftwatch_jobs_watched{provider,status} from every watched job's last status."""
        watched = await self._schedule.watched_ids()
        statuses = await self._jobs.statuses(watched)
        states = await self._jobs.cadences(watched)
        providers = [JobRef.parse(key).provider for key in watched]
        by_provider = Counter(zip(providers, statuses, strict=True))
        self._metrics.jobs_watched.clear()
        for (provider, status), count in by_provider.items():
            self._metrics.jobs_watched.labels(provider, status).set(count)
        settings = self._settings
        jobs = [
            Watched(p, s, decode(c)) for p, s, c in zip(providers, statuses, states, strict=True)
        ]
        self._stretch = provider_stretches(
            jobs,
            self._rates,
            interval=settings.poll_interval,
            idle_factor=settings.idle_poll_factor,
            discovery_interval=settings.discovery_interval,
            priced=settings.max_poll_factor > 1,
        )
        for provider, factor in self._stretch.items():
            await self._schedule.set_stretch(provider, factor, settings.discovery_interval * 3)

    async def _claim_and_spawn(self) -> None:
        free = self._settings.poll_concurrency - len(self._tasks)
        if free <= 0:
            return
        if self._backpressure is not None and await self._backpressure.engaged():
            return
        claimed, claimed_at = await self._schedule.claim(free, self._settings.lease_seconds)
        for key in claimed:
            task = asyncio.create_task(self._poll(key, claimed_at), name=f"poll {key}")
            self._tasks.add(task)
            task.add_done_callback(self._poll_done)

    def _poll_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._slot_freed.set()

    async def _poll(self, key: str, claimed_at: int) -> None:
        ref = JobRef.parse(key)
        with structlog.contextvars.bound_contextvars(provider=ref.provider, job_id=ref.id):
            delay = await self._poll_once(key, claimed_at / 1000)
            try:
                # Counted from the claim, not the poll's end: a job is polled every
                # interval, not every interval plus the poll's own duration.
                due = None if delay is None else claimed_at + int(delay * 1000)
                await self._schedule.release(key, due, claimed_at)
            except RedisError as exc:
                # The lease expires by itself and the job falls due again: nothing lost.
                log.warning("release_failed", error=str(exc))

    async def _poll_once(self, key: str, claimed_at: float) -> float | None:
        """Poll and return the delay to the next poll (None drops the job)."""
        try:
            return await self._poll_job(key, claimed_at)
        except Exception as exc:  # noqa: BLE001 - counted and logged in _report_crash
            # A bug or a record ftwatch cannot read: the job stays watched and is tried
            # again at the usual pace; the loop and the other polls go on.
            self._report_crash(key, exc)
            return self._settings.poll_interval

    async def _poll_job(self, key: str, claimed_at: float) -> float | None:
        """One poll, its expected failures handled; the delay to the next (None: drop)."""
        settings = self._settings
        try:
            result = await self._job_poller.poll(key, self._schedule.owner)
        except UnknownProvider as exc:
            # Its provider left the config: keep the job (and its history) for when it
            # comes back, asking rarely.
            self._report_unknown(key, str(exc))
            return settings.poll_interval * settings.idle_poll_factor
        except NotFound as exc:
            log.error("job_not_found", error=str(exc), hint="the job is no longer watched")
            return None
        except UpstreamError as exc:
            self._report_once(key, exc)
            factor = 1.0 if exc.retryable else settings.idle_poll_factor
            return settings.poll_interval * factor
        except LeaseLost:
            log.info("lease_lost", hint="another replica polls this job now")
            # Its series are that replica's to report now; ours would only grow stale.
            self._metrics.forget_job(JobRef.parse(key))
            return settings.poll_interval
        except RedisError as exc:
            log.warning("store_unavailable", error=str(exc), hint="events are fetched again")
            return settings.poll_interval
        self._errors.pop(key, None)
        if result.appended:
            log.debug("events_appended", count=result.appended, status=result.status)
        return self._next_delay(key, result, claimed_at)

    def _next_delay(self, key: str, result: PollResult, claimed_at: float) -> float | None:
        """Seconds from the claim to the next poll: the job's cadence when it is running."""
        settings = self._settings
        stretch = self._stretch.get(JobRef.parse(key).provider, 1.0)
        if is_running(result.status) and settings.max_poll_factor > 1:
            pace = Pace(settings.poll_interval, settings.max_poll_factor, stretch)
            return next_poll(result.cadence, pace) - claimed_at
        delay = poll_delay(result.status, settings.poll_interval, settings.idle_poll_factor)
        return None if delay is None else delay * stretch

    def _report_once(self, key: str, exc: UpstreamError) -> None:
        """Log a job's upstream error when it first appears or changes, not every poll."""
        said = f"{exc.status}:{exc.code}"
        if self._errors.get(key) != said:
            self._errors[key] = said
            log.error("poll_failed", error=str(exc), status=exc.status, code=exc.code)

    def _report_crash(self, key: str, exc: Exception) -> None:
        """Count every unexpected poll error; log it when its kind first appears for the job."""
        ref = JobRef.parse(key)
        self._metrics.poll_errors.labels(ref.provider).inc()
        said = f"crash:{type(exc).__qualname__}"
        if self._errors.get(key) != said:
            self._errors[key] = said
            log.error(
                "poll_crashed",
                provider=ref.provider,
                job_id=ref.id,
                error=f"{type(exc).__name__}: {exc}",
                exc_info=exc,
                hint="the job stays watched and is polled again",
            )

    def _report_unknown(self, key: str, error: str) -> None:
        if self._errors.get(key) != "unknown-provider":
            self._errors[key] = "unknown-provider"
            log.error("poll_skipped", error=error, hint="add the provider back to the config")

    async def _drain(self) -> None:
        """Let in-flight polls finish and give their jobs back, then free the discovery lease.

        A poll still running after a lease's length has outlived its lease already (leases
        run from the claim): cancelling it frees nothing another replica waits for.
        """
        if self._sweep_task is not None:
            self._sweep_task.cancel()
            await asyncio.gather(self._sweep_task, return_exceptions=True)
        if self._tasks:
            timeout = self._settings.lease_seconds
            _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await self._release_discovery()

    async def _release_discovery(self) -> None:
        # Held for two discovery intervals: a restarted replica (a new owner name) would
        # otherwise wait that long before its first sweep.
        try:
            for name in self._providers:
                await self._schedule.release_discovery(name)
        except RedisError as exc:
            log.warning("discovery_lease_kept", error=str(exc), hint="it expires by itself")


async def _wait(event: asyncio.Event, seconds: float) -> None:
    await wait_event(event, seconds)
