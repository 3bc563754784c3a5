"""A consumer group's backlog: unread plus unacknowledged entries (Redis 6.2 and 7)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

from service.store.backlog import stream_backlog
from service.store.scripts import Scripts

STREAM, GROUP = "s", "rules"


async def add(redis: aioredis.Redis, n: int) -> None:
    for i in range(n):
        await redis.xadd(STREAM, {"n": str(i)})


async def test_no_stream_means_no_backlog(redis: aioredis.Redis) -> None:
    backlog = await stream_backlog(Scripts(redis), STREAM, GROUP, limit=100)
    assert (backlog.entries, backlog.exact) == (0, True)


async def test_without_the_group_every_entry_is_backlog(redis: aioredis.Redis) -> None:
    await add(redis, 7)
    assert (await stream_backlog(Scripts(redis), STREAM, GROUP, limit=100)).entries == 7


async def test_unread_and_unacknowledged_entries_count(redis: aioredis.Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, 10)
    reply: Any = await redis.xreadgroup(GROUP, "c", {STREAM: ">"}, count=4)
    ids = [entry_id for entry_id, _ in reply[0][1]]
    scripts = Scripts(redis)
    assert (await stream_backlog(scripts, STREAM, GROUP, limit=100)).entries == 10
    await redis.xack(STREAM, GROUP, *ids[:3])
    assert (await stream_backlog(scripts, STREAM, GROUP, limit=100)).entries == 7
    await redis.xreadgroup(GROUP, "c", {STREAM: ">"})
    await redis.xack(STREAM, GROUP, ids[3])
    backlog = await stream_backlog(scripts, STREAM, GROUP, limit=100)
    assert (backlog.entries, backlog.exact) == (6, True)  # read, not yet acknowledged


async def test_counting_stops_at_the_limit(redis: aioredis.Redis) -> None:
    await redis.xgroup_create(STREAM, GROUP, id="0", mkstream=True)
    await add(redis, 50)
    backlog = await stream_backlog(Scripts(redis), STREAM, GROUP, limit=20)
    assert backlog.entries >= 20
    info: Any = await redis.xinfo_groups(STREAM)
    assert backlog.exact == ("lag" in info[0] and info[0]["lag"] is not None)
