"""The idempotent, atomic append of events with cursor and snapshot (real redis-server)."""

from __future__ import annotations

import math

import pytest
import redis.asyncio as aioredis

from service.models.event import NormalizedEvent
from service.models.job import JobSnapshot
from service.store import keys
from service.store.jobs import JobStore, LeaseLost
from service.store.scripts import Scripts
from tests.support import xrange


def event(n: int, job: str = "ftjob-1") -> NormalizedEvent:
    return NormalizedEvent(
        job_id=job,
        event_id=f"ev-{n}",
        created_at=n,
        type="metrics",
        metrics={"step": n, "train_loss": 1.0 / n},
    )


@pytest.fixture
def store(redis: aioredis.Redis) -> JobStore:
    return JobStore(redis, Scripts(redis), maxlen=10_000, window=50)


async def stream_ids(redis: aioredis.Redis) -> list[str]:
    entries = await xrange(redis, keys.EVENTS_STREAM)
    return [NormalizedEvent.model_validate_json(f["e"]).event_id for _, f in entries]


async def test_append_is_idempotent_by_event_id(store: JobStore, redis: aioredis.Redis) -> None:
    snap = JobSnapshot(job_id="ftjob-1", status="running", step=3)
    first = await store.append(snap, [event(1), event(2), event(3)], cursor="ev-3")
    again = await store.append(snap, [event(2), event(3), event(4)], cursor="ev-4")
    assert [e.event_id for e in first] == ["ev-1", "ev-2", "ev-3"]
    assert [e.event_id for e in again] == ["ev-4"]
    assert await stream_ids(redis) == ["ev-1", "ev-2", "ev-3", "ev-4"]
    record = await store.load("openai:ftjob-1")
    assert record.cursor == "ev-4" and record.snapshot.step == 3 and not record.done


async def test_snapshot_round_trips_with_non_finite_metrics(store: JobStore) -> None:
    snap = JobSnapshot(
        job_id="j",
        status="running",
        model="o4-mini",
        method="reinforcement",
        metadata={"team": "x"},
        step=4,
        metrics={"train_loss": math.inf},
    )
    await store.append(snap, [], cursor=None)
    loaded = (await store.load("openai:j")).snapshot
    assert loaded.metrics["train_loss"] == math.inf
    assert (loaded.model, loaded.metadata, loaded.step) == ("o4-mini", {"team": "x"}, 4)
    assert await store.all_job_keys() == ["openai:j"]
    assert [s.job_id for s in await store.snapshots(["openai:j", "openai:missing"])] == ["j"]


async def test_append_refuses_when_the_lease_moved(store: JobStore, redis: aioredis.Redis) -> None:
    await redis.set(keys.lease("openai:ftjob-1"), "replica-b")
    with pytest.raises(LeaseLost):
        await store.append(
            JobSnapshot(job_id="ftjob-1"), [event(1)], cursor="ev-1", owner="replica-a"
        )
    assert await stream_ids(redis) == []
    assert (await store.load("openai:ftjob-1")).cursor is None


async def test_seen_window_is_bounded(store: JobStore, redis: aioredis.Redis) -> None:
    await store.append(
        JobSnapshot(job_id="ftjob-1"), [event(n) for n in range(1, 121)], cursor="ev-120"
    )
    assert await redis.zcard(keys.seen("openai:ftjob-1")) == 50
    assert len(await stream_ids(redis)) == 120


async def test_a_snapshot_keeps_the_raw_status_beside_the_lifecycle_one(store: JobStore) -> None:
    await store.append(
        JobSnapshot(job_id="j", status="queued", raw_status="pending"), [], cursor=None
    )
    ingested = JobSnapshot(job_id="i", status="running", provider="ingest")
    await store.append(ingested, [], cursor=None)
    loaded = {s.job_id: s for s in await store.snapshots(["openai:j", "ingest:i"])}
    assert (loaded["j"].status, loaded["j"].raw_status) == ("queued", "pending")
    assert (loaded["i"].status, loaded["i"].raw_status) == ("running", None)
    found = await store.statuses(["openai:j", "ingest:i", "openai:never-polled"])
    assert found == ["queued", "running", "unknown"]


@pytest.mark.parametrize(
    ("stored", "status"),
    [
        ("validating_files", "validating"),
        ("pending", "queued"),
        ("running", "running"),
        ("defrosting", "unknown"),
    ],
)
async def test_a_snapshot_stored_by_the_previous_version_reads_mapped(
    store: JobStore, redis: aioredis.Redis, stored: str, status: str
) -> None:
    # The previous version kept OpenAI's status in `status` and had no `raw_status`.
    await redis.hset(keys.job("old"), mapping={"status": stored, "step": "7", "cursor": "ev-7"})
    record = await store.load("old")
    assert (record.snapshot.status, record.snapshot.raw_status) == (status, stored)
    assert record.snapshot.step == 7 and record.cursor == "ev-7"
    assert await store.statuses(["old"]) == [status]
