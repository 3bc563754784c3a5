"""Wait for the end of a chaos run: every job at rest and nothing left to do anywhere.

Quiet means: each simulated job is terminal or paused and ftwatch's snapshot says so;
every appended event was decided by the rules; the action queue, the delayed actions,
the delivery stream and the receivers' queues are empty. After that nothing more
can happen, so the records can be judged.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from service.parts import ACTIONS_GROUP, RULES_GROUP
from service.store import keys
from service.store.deliveries import GROUP as DELIVERY_GROUP
from service.store.deliveries import QUEUE_PREFIX
from simulator.platform import Platform

AT_REST = frozenset({"succeeded", "failed", "cancelled", "paused"})


async def _group_busy(client: aioredis.Redis, stream: str, group: str) -> str | None:
    """Why the group still has work (pending or unread entries), or None."""
    info: Any = await client.xinfo_stream(stream)
    for row in await client.xinfo_groups(stream):
        if row["name"] != group:
            continue
        if row["pending"]:
            return f"{stream}: {row['pending']} pending"
        if row["last-delivered-id"] != info["last-generated-id"]:
            return f"{stream}: unread entries"
        return None
    return f"{stream}: no group {group}"


async def _jobs_busy(client: aioredis.Redis, platform: Platform) -> str | None:
    for row in platform.summary()["data"]:
        job_id, status = row["id"], row["status"]
        if status not in AT_REST:
            return f"{job_id} is {status} upstream"
        seen: Any = await client.hmget(keys.job(f"openai:{job_id}"), ["status", "seq"])
        if seen[0] != status:
            return f"{job_id}: ftwatch saw {seen[0]}, upstream {status}"
        decided: Any = await client.hget(keys.rule_state(f"openai:{job_id}"), "_seq")
        if decided != seen[1]:
            return f"{job_id}: events up to {seen[1]}, decided up to {decided}"
    return None


async def busy(client: aioredis.Redis, platform: Platform) -> str | None:
    """What is still going on (None: the run is over)."""
    why = await _jobs_busy(client, platform)
    if why:
        return why
    for stream, group in (
        (keys.EVENTS_STREAM, RULES_GROUP),
        (keys.ACTION_QUEUE, ACTIONS_GROUP),
        (keys.DELIVERIES_STREAM, DELIVERY_GROUP),
    ):
        if await client.exists(stream):
            why = await _group_busy(client, stream, group)
            if why:
                return why
    if await client.zcard(keys.DELAYED):
        return "delayed actions waiting"
    async for queue in client.scan_iter(match=f"{QUEUE_PREFIX}*"):
        if await client.zcard(queue):
            return f"{queue} not empty"
    return None


async def settle(client: aioredis.Redis, platform: Platform, timeout: float) -> str | None:
    """Wait until the run is over; returns what was still going on at the deadline."""
    deadline = time.monotonic() + timeout
    why: str | None = "not checked yet"
    while time.monotonic() < deadline:
        try:
            why = await busy(client, platform)
        except RedisError as exc:
            why = f"redis: {exc}"
        if why is None:
            return None
        await asyncio.sleep(0.25)
    return why
