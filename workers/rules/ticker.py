"""Timer-driven rules: `stalled` (and status seen between events), on one replica at a time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from redis.exceptions import RedisError

from service.metrics import Metrics
from service.models.job import JobSnapshot
from service.store.jobs import JobStore
from service.store.rule_state import RuleStateStore
from service.store.schedule import Schedule
from workers.outage import Outage
from workers.rules.config import RulesFile
from workers.rules.engine import tick
from workers.rules.firings import facts_of_snapshot
from workers.rules.fold import encode
from workers.rules.plan import Trigger, decide_rules
from workers.rules.view import view_of
from workers.waiting import wait_event

log = structlog.get_logger(__name__)

TICKER_LEASE = "ftwatch:lease:ticker"


class RuleTicker:
    """Feeds every watched job's snapshot to the rules every `interval` seconds."""

    def __init__(
        self,
        rules: RulesFile,
        store: RuleStateStore,
        jobs: JobStore,
        schedule: Schedule,
        metrics: Metrics,
        *,
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._rules = rules
        self._store = store
        self._jobs = jobs
        self._schedule = schedule
        self._metrics = metrics
        self._interval = interval
        self._clock = clock

    async def run(self, stop: asyncio.Event) -> None:
        outage = Outage("rule-ticker")
        while not stop.is_set():
            try:
                if await self._schedule.hold(TICKER_LEASE, self._interval * 3):
                    await self.tick_all()
                outage.ended()
            except RedisError as exc:
                await outage.wait(exc, stop)
                continue
            await wait_event(stop, self._interval)
        await self._release_lease()

    async def _release_lease(self) -> None:
        # On shutdown: another replica's ticker takes over at its next tick, not after
        # the lease's three intervals.
        try:
            await self._schedule.release_lease(TICKER_LEASE)
        except RedisError as exc:
            log.warning("ticker_lease_kept", error=str(exc), hint="it expires by itself")

    async def tick_all(self) -> int:
        """Tick every watched job once; returns how many firings it committed."""
        job_ids = await self._schedule.watched_ids()
        fired = 0
        for snapshot, seq in await self._jobs.snapshots_at(job_ids):
            fired += await self.tick_job(snapshot, seq)
        return fired

    async def tick_job(self, job: JobSnapshot, seq: int) -> int:
        """Tick one job whose snapshot shows its events up to `seq`."""
        stored = await self._store.load(job.key)
        if (stored.last_seq or 0) != seq:
            # The snapshot is ahead of the events the rules have decided (or behind, read
            # before a newer append): judged now, a resume it shows would re-arm rules
            # before the events that preceded the pause, which could then fire them again.
            # The events carry the same statuses in order; the next tick looks again.
            return 0
        now = self._clock()
        trigger = Trigger(lambda: facts_of_snapshot(job), now)
        view = view_of(stored, self._rules.rules)
        decision = decide_rules(
            self._rules.rules, view, lambda rule, prev: tick(rule, prev, job, now), trigger
        )
        if not decision.states:
            return 0
        # A conflict means a worker just committed for this job: the next tick re-judges.
        if not await self._store.commit(job.key, stored.version, encode(decision, None)):
            return 0
        for firing in decision.firings:
            self._metrics.rule_firings.labels(firing.rule).inc()
        return len(decision.firings)
