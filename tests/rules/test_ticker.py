"""The rule ticker on a real redis-server: it never gets ahead of the events the rules decided."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.event import NormalizedEvent
from service.models.job import JobSnapshot
from service.store import keys
from service.store.jobs import JobStore
from service.store.rule_state import RuleStateStore
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from workers.rules.loading import parse_rules_text
from workers.rules.ticker import RuleTicker
from workers.rules.worker import RuleWorker
from workers.stream.consumer import Disposition, Entry

JOB = "ftjob-tick"
NOW = 1_700_000_000.0
RULES = parse_rules_text("""
rules:
  - name: divergence
    when: {threshold: {metric: train_loss, above: 5}}
    do: [pause, {resume: {after: 1m}}]
  - name: stalled
    when: {stalled: {for: 10m}}
    do: [{notify: log}]
""")


class Rig:
    """The poller's append, the rule worker and the ticker on one Redis."""

    def __init__(self, redis: aioredis.Redis) -> None:
        scripts = Scripts(redis)
        self.redis = redis
        self.jobs = JobStore(redis, scripts, maxlen=10_000, window=64)
        self.schedule = Schedule(redis, scripts, "test")
        store = RuleStateStore(redis, scripts, group="rules")
        self.now = NOW
        self.worker = RuleWorker(RULES, store, Metrics(), clock=lambda: self.now)
        self.ticker = RuleTicker(
            RULES, store, self.jobs, self.schedule, Metrics(), interval=1, clock=lambda: self.now
        )
        self.decided = "0-0"

    async def poll(self, status: str, events: Sequence[NormalizedEvent]) -> None:
        """What a poll writes: the snapshot with the job's status, and its new events."""
        snapshot = JobSnapshot(job_id=JOB, status=status, last_event_at=int(NOW))
        await self.jobs.append(snapshot, events, cursor=None)

    async def decide(self) -> None:
        """The rule worker handles every entry appended so far, in order."""
        entries: Any = await self.redis.xrange(keys.EVENTS_STREAM, f"({self.decided}", "+")
        for entry_id, fields in entries:
            (outcome,) = await self.worker.handle_batch([Entry(entry_id, fields)])
            assert outcome is Disposition.ACKED
            self.decided = entry_id

    async def pauses(self) -> int:
        entries: Any = await self.redis.xrange(keys.ACTION_QUEUE)
        return sum('"action":"pause"' in fields["t"] for _, fields in entries)


def metrics(step: int, loss: float) -> NormalizedEvent:
    return NormalizedEvent(
        job_id=JOB,
        event_id=f"ev-{step}",
        created_at=int(NOW),
        type="metrics",
        status="running",
        metrics={"step": step, "train_loss": loss},
    )


def status(old: str, new: str) -> NormalizedEvent:
    return NormalizedEvent(
        job_id=JOB,
        event_id=f"status-{new}",
        created_at=int(NOW),
        type="status",
        status=new,
        data={"from": old, "to": new},
    )


@pytest.fixture
async def rig(redis: aioredis.Redis) -> Rig:
    rig = Rig(redis)
    await rig.schedule.watch([f"openai:{JOB}"])
    return rig


async def test_a_resume_seen_by_the_ticker_before_the_events_does_not_refire(rig: Rig) -> None:
    await rig.poll("running", [metrics(1, 9.0)])
    await rig.decide()
    assert await rig.pauses() == 1
    # Before the pause took effect a poll saw one more bad step; the rule workers are
    # behind (killed, say) while the job is paused and resumed.
    await rig.poll("running", [metrics(2, 9.0)])
    await rig.poll("paused", [status("running", "paused")])
    await rig.ticker.tick_all()
    await rig.poll("queued", [status("paused", "queued")])
    await rig.ticker.tick_all()
    await rig.decide()  # the workers catch up: step 2 is part of the first episode
    assert await rig.pauses() == 1


async def test_a_job_in_step_with_its_events_is_still_ticked(rig: Rig) -> None:
    await rig.poll("running", [metrics(1, 1.0)])
    await rig.decide()
    assert await rig.ticker.tick_all() == 0  # the stalled clock starts
    rig.now += 3600
    assert await rig.ticker.tick_all() == 1  # quiet for an hour: stalled


async def test_a_tick_that_changes_nothing_writes_nothing(rig: Rig) -> None:
    for job_status in ("running", "queued"):  # the stalled clock runs, and is off
        await rig.poll(job_status, [metrics(len(job_status), 1.0)])
        await rig.decide()
        await rig.ticker.tick_all()  # starts (or stops) the stalled clock
        version = await rig.redis.hget(keys.rule_state(f"openai:{JOB}"), "_v")
        rig.now += 1
        await rig.ticker.tick_all()
        assert await rig.redis.hget(keys.rule_state(f"openai:{JOB}"), "_v") == version
