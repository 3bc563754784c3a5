"""The upstream request budget: one token bucket in Redis shared by every replica."""

from __future__ import annotations

import time

import pytest
import redis.asyncio as aioredis

from service.store.budget import RequestBudget
from service.store.scripts import Scripts


def budget(redis: aioredis.Redis, rate: float, burst: float | None = None) -> RequestBudget:
    return RequestBudget(Scripts(redis), rate, burst=burst)


async def test_a_burst_goes_at_once_then_requests_are_spaced_at_the_rate(
    redis: aioredis.Redis,
) -> None:
    bucket = budget(redis, rate=10, burst=3)
    waits = [await bucket.reserve() for _ in range(6)]
    assert waits[:3] == [0, 0, 0]
    # Reserved back to back: the 4th waits one interval, each later one an interval more.
    assert waits[3] == pytest.approx(0.1, abs=0.02)
    assert waits[5] == pytest.approx(0.3, abs=0.02)


async def test_replicas_draw_from_one_bucket(redis: aioredis.Redis) -> None:
    a, b = budget(redis, rate=10, burst=2), budget(redis, rate=10, burst=2)
    assert [await a.reserve(), await b.reserve()] == [0, 0]
    assert await b.reserve() > 0 and await a.reserve() > await b.reserve() - 0.2


async def test_requests_through_the_budget_keep_to_the_rate(redis: aioredis.Redis) -> None:
    bucket = budget(redis, rate=100, burst=1)
    started = time.monotonic()
    for _ in range(31):
        await bucket()
    elapsed = time.monotonic() - started
    assert elapsed >= 0.28  # 30 intervals of 10 ms after the first
    assert bucket.waited > 0


def test_a_rate_must_be_positive(redis: aioredis.Redis) -> None:
    with pytest.raises(ValueError, match="rate"):
        budget(redis, rate=0)
