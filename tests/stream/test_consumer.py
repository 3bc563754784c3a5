"""The consumer-group reader on a real redis-server: restart, reclaim, dead letters."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import TypeVar

import redis.asyncio as aioredis

from tests.support import RedisServer, eventually, xrange
from workers.stream.consumer import (
    Disposition,
    Entry,
    Failed,
    Fields,
    GroupConfig,
    Outcome,
    StreamConsumer,
    one_by_one,
)

STREAM, DEAD = "test:stream", "test:stream:dead"
T = TypeVar("T")


def config(name: str, **overrides: int) -> GroupConfig:
    return GroupConfig(STREAM, "group", name, DEAD, **overrides)


class Recorder:
    """A handler that records what it saw and can be told to fail or stall."""

    def __init__(self, fail: bool = False) -> None:
        self.seen: list[str] = []
        self.fail = fail

    async def __call__(self, entry_id: str, fields: Fields, deliveries: int) -> Disposition:
        self.seen.append(fields["n"])
        if self.fail:
            raise ValueError(f"cannot handle {fields['n']}")
        return Disposition.DONE


@contextlib.asynccontextmanager
async def running(consumer: StreamConsumer) -> AsyncIterator[asyncio.Event]:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def add(redis: aioredis.Redis, *numbers: int) -> None:
    for n in numbers:
        await redis.xadd(STREAM, {"n": str(n)})


async def test_every_entry_is_handled_and_acknowledged(redis: aioredis.Redis) -> None:
    handler = Recorder()
    consumer = StreamConsumer(redis, config("c1"), one_by_one(handler))
    await add(redis, 1, 2, 3)
    async with running(consumer):
        await eventually(lambda: _equals(handler.seen, ["1", "2", "3"]))
        await eventually(lambda: _pending_is(consumer, 0))


async def test_a_dead_consumers_entries_are_reclaimed(redis: aioredis.Redis) -> None:
    await redis.xgroup_create(STREAM, "group", id="0", mkstream=True)
    await add(redis, 1, 2)
    # "c-dead" read both entries and died before acknowledging them.
    await redis.xreadgroup("group", "c-dead", {STREAM: ">"}, count=10)
    handler = Recorder()
    consumer = StreamConsumer(redis, config("c-live", claim_idle_ms=50), one_by_one(handler))
    async with running(consumer):
        await eventually(lambda: _equals(sorted(handler.seen), ["1", "2"]))
        await eventually(lambda: _pending_is(consumer, 0))


async def test_a_restarted_consumer_reads_its_own_pending_entries_first(
    redis: aioredis.Redis,
) -> None:
    await redis.xgroup_create(STREAM, "group", id="0", mkstream=True)
    await add(redis, 1)
    await redis.xreadgroup("group", "c1", {STREAM: ">"}, count=10)  # then the process died
    handler = Recorder()
    async with running(StreamConsumer(redis, config("c1"), one_by_one(handler))):
        await eventually(lambda: _equals(handler.seen, ["1"]))


async def test_a_poison_entry_goes_to_dead_letters_with_its_error(redis: aioredis.Redis) -> None:
    handler = Recorder(fail=True)
    consumer = StreamConsumer(
        redis, config("c1", claim_idle_ms=20, max_deliveries=3), one_by_one(handler)
    )
    await add(redis, 7)
    async with running(consumer):
        await eventually(lambda: _dead_count(redis, 1), message="dead-lettered")
    ((_, fields),) = await xrange(redis, DEAD)
    assert fields["n"] == "7"
    assert "cannot handle 7" in fields["error"]
    assert int(fields["deliveries"]) > 3
    assert await consumer.pending() == 0


async def test_the_group_is_recreated_after_redis_lost_it(
    redis: aioredis.Redis, redis_server: RedisServer
) -> None:
    handler = Recorder()
    consumer = StreamConsumer(redis, config("c1"), one_by_one(handler))
    async with running(consumer):
        await add(redis, 1)
        await eventually(lambda: _equals(handler.seen, ["1"]))
        await redis.flushall()  # what a restart without persistence leaves behind
        await add(redis, 2)
        await eventually(lambda: _equals(handler.seen, ["1", "2"]), timeout=15)


class Batches:
    """A batch handler that records each batch; entries named in `retry` wait once."""

    def __init__(self, retry: set[str] | None = None) -> None:
        self.batches: list[list[str]] = []
        self.retry = retry or set()

    async def __call__(self, entries: Sequence[Entry]) -> list[Outcome]:
        self.batches.append([e.fields["n"] for e in entries])
        outcomes: list[Outcome] = []
        for entry in entries:
            if entry.fields["n"] in self.retry:
                self.retry.discard(entry.fields["n"])
                outcomes.append(Disposition.RETRY)
            elif entry.fields["n"] == "bad":
                outcomes.append(Failed("bad entry"))
            else:
                outcomes.append(Disposition.DONE)
        return outcomes


async def test_a_read_reaches_the_handler_whole(redis: aioredis.Redis) -> None:
    handler = Batches()
    consumer = StreamConsumer(redis, config("c1"), handler)
    await add(redis, 1, 2, 3)
    async with running(consumer):
        await eventually(lambda: _equals(handler.batches, [["1", "2", "3"]]))
        await eventually(lambda: _pending_is(consumer, 0))


async def test_a_retry_is_handled_again_and_a_failure_left_for_the_reclaim(
    redis: aioredis.Redis,
) -> None:
    handler = Batches(retry={"2"})
    consumer = StreamConsumer(redis, config("c1", claim_idle_ms=60_000), handler)
    await redis.xadd(STREAM, {"n": "1"})
    await redis.xadd(STREAM, {"n": "2"})
    await redis.xadd(STREAM, {"n": "bad"})
    async with running(consumer):
        await eventually(lambda: _equals(handler.batches[1:], [["2"]]), message="retried")
        await eventually(lambda: _pending_is(consumer, 1), message="only the failure pending")
    assert handler.batches[0] == ["1", "2", "bad"]


async def _equals(actual: list[T], expected: list[T]) -> bool:
    return actual == expected


async def _pending_is(consumer: StreamConsumer, count: int) -> bool:
    return await consumer.pending() == count


async def _dead_count(redis: aioredis.Redis, count: int) -> bool:
    return int(await redis.xlen(DEAD)) == count


async def test_acked_entries_are_left_to_the_handlers_own_acknowledgement(
    redis: aioredis.Redis,
) -> None:
    async def claims_acked_without_acking(entries: Sequence[Entry]) -> list[Outcome]:
        seen.extend(e.fields["n"] for e in entries)
        return [Disposition.ACKED] * len(entries)

    seen: list[str] = []
    consumer = StreamConsumer(
        redis, config("c1", claim_idle_ms=60_000), claims_acked_without_acking
    )
    async with running(consumer):
        await add(redis, 1)
        await eventually(lambda: _equals(seen, ["1"]))
        await add(redis, 2)  # read after the first batch was finished, acks included
        await eventually(lambda: _equals(seen, ["1", "2"]))
        assert await consumer.pending() == 2  # no XACK of the consumer's own
    assert seen == ["1", "2"]  # each finished once: not retried
