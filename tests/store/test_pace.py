"""A receiver's send slot in Redis: one holder across replicas, a gap after each send."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.store.pace import Pace
from service.store.scripts import Scripts
from tests.support import eventually


def pace(redis: aioredis.Redis) -> Pace:
    return Pace(Scripts(redis), "chat")


async def test_one_holder_at_a_time_and_the_gap_counts_from_the_release(
    redis: aioredis.Redis,
) -> None:
    a, b = pace(redis), pace(redis)  # two replicas
    assert await a.take("a", hold_seconds=30) == 0.0
    assert 29 < await b.take("b", hold_seconds=30) <= 30  # held: wait out the hold at most
    assert await b.release("b", 0.0) is False  # not b's to release
    assert await a.release("a", 5.0) is True
    assert 4 < await b.take("b", hold_seconds=30) <= 5  # the gap after a's send
    assert await a.release("a", 0.0) is False  # a's hold ended with its release


async def test_a_release_without_a_send_frees_the_slot_at_once(redis: aioredis.Redis) -> None:
    a, b = pace(redis), pace(redis)
    assert await a.take("a", hold_seconds=30) == 0.0
    assert await a.release("a", 0.0) is True
    assert await b.take("b", hold_seconds=30) == 0.0


async def test_a_holder_that_died_frees_the_slot_when_its_hold_runs_out(
    redis: aioredis.Redis,
) -> None:
    a, b = pace(redis), pace(redis)
    assert await a.take("a", hold_seconds=0.2) == 0.0  # and a is never heard of again

    async def b_takes() -> bool:
        return await b.take("b", hold_seconds=30) == 0.0

    await eventually(b_takes, timeout=5)
