"""SIGTERM under load: exit 0, and every event is still ingested and decided once."""

from __future__ import annotations

import asyncio

import redis.asyncio as aioredis

from service.store import keys
from tests.integration.conftest import ManualSim, StartFtwatch, stream_ids
from tests.integration.test_poller_process import running_jobs
from tests.support import eventually

JOBS = [f"ftjob-poll-{n}" for n in range(3)]


async def everything_decided(redis: aioredis.Redis, sim: ManualSim) -> bool:
    """Every upstream event is in the stream once, and the rules decided every one."""
    for job in JOBS:
        if await stream_ids(redis, job) != sim.upstream_ids(job):
            return False
        appended = await redis.hget(keys.job(f"openai:{job}"), "seq")
        decided = await redis.hget(keys.rule_state(f"openai:{job}"), "_seq")
        if appended is None or appended != decided:
            return False
    return True


async def test_sigterm_mid_load_exits_zero_and_loses_nothing(
    redis: aioredis.Redis, manual_sim: ManualSim, start_ftwatch: StartFtwatch
) -> None:
    first = start_ftwatch("replica-a", "all", {})
    await first.wait_healthy()
    async with running_jobs(manual_sim, seconds_per_tick=1.0):
        await eventually(lambda: _flowing(redis), message="events flowing")
        code = await asyncio.to_thread(first.terminate, 30.0)
        assert code == 0, first.log_tail()
        second = start_ftwatch("replica-b", "all", {})
        await second.wait_healthy()
    await eventually(
        lambda: everything_decided(redis, manual_sim),
        timeout=30,
        message="after the restart every event is ingested once and decided",
    )


async def _flowing(redis: aioredis.Redis) -> bool:
    return bool(await redis.xlen(keys.EVENTS_STREAM) > 30)
