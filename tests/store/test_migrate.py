"""Data of the version before providers is renamed to job keys once, and nothing twice."""

from __future__ import annotations

import json

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from service.store import keys
from service.store.jobs import JobStore
from service.store.migrate import SCHEMA, migrate
from service.store.scripts import Scripts


async def _old_job(redis: aioredis.Redis, job_id: str, source: str) -> None:
    """A job as the previous version stored it: every key by the bare id."""
    # redis-py's mapping is keyed by any field type, and Mapping's key type is invariant.
    snapshot: dict[FieldT, EncodableT] = {
        "job_id": job_id,
        "status": "running",
        "step": "4",
        "source": source,
    }
    await redis.hset(f"ftwatch:job:{job_id}", mapping=snapshot | {"cursor": "ev-4", "seq": "4"})
    await redis.zadd(f"ftwatch:job:{job_id}:seen", {"ev-4": 4})
    await redis.hset(f"ftwatch:rules:{job_id}", mapping={"plateau": json.dumps({"x": 1})})
    await redis.set(f"ftwatch:job-actions:{job_id}", "2")
    await redis.sadd(keys.JOBS, job_id)


async def test_old_jobs_move_to_their_providers_keys(redis: aioredis.Redis) -> None:
    await _old_job(redis, "ftjob-1", "openai")
    await _old_job(redis, "run-7", "ingest")
    await redis.zadd(keys.SCHEDULE, {"ftjob-1": 1234})

    assert await migrate(redis, "replica-a") == 2

    assert sorted(await redis.smembers(keys.JOBS)) == ["ingest:run-7", "openai:ftjob-1"]
    assert await redis.zrange(keys.SCHEDULE, 0, -1, withscores=True) == [("openai:ftjob-1", 1234)]
    store = JobStore(redis, Scripts(redis), maxlen=100, window=10)
    record = await store.load("openai:ftjob-1")
    assert (record.snapshot.provider, record.snapshot.step, record.cursor) == ("openai", 4, "ev-4")
    assert (await store.load("ingest:run-7")).snapshot.provider == "ingest"
    assert await redis.zscore(keys.seen("openai:ftjob-1"), "ev-4") == 4
    assert await redis.hget(keys.rule_state("ingest:run-7"), "plateau") == '{"x": 1}'
    assert await redis.get(keys.job_actions("openai:ftjob-1")) == "2"
    assert not await redis.exists("ftwatch:job:ftjob-1", "ftwatch:rules:run-7")
    assert await redis.get(SCHEMA) == "2"


async def test_a_second_start_and_new_data_are_left_alone(redis: aioredis.Redis) -> None:
    await _old_job(redis, "ftjob-1", "openai")
    assert await migrate(redis, "a") == 1
    assert await migrate(redis, "b") == 0  # schema 2: nothing to do
    # A start that could not migrate wrote new jobs meanwhile: they are not renamed again.
    await redis.delete(SCHEMA)
    assert await migrate(redis, "c") == 0
    assert await redis.smembers(keys.JOBS) == {"openai:ftjob-1"}
