"""Real `ftwatch run --role poller` processes: SIGKILL, replicas and upstream faults."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
import redis.asyncio as aioredis

from tests.integration.conftest import ManualSim, StartFtwatch, stream_ids
from tests.support import FtwatchProcess, eventually

JOBS = [f"ftjob-poll-{n}" for n in range(3)]
StartPoller = Callable[[str], FtwatchProcess]


@pytest.fixture
def start_poller(start_ftwatch: StartFtwatch) -> StartPoller:
    def start(name: str) -> FtwatchProcess:
        return start_ftwatch(name, "poller", {"FTWATCH_UPSTREAM_MAX_ATTEMPTS": "8"})

    return start


@contextlib.asynccontextmanager
async def running_jobs(sim: ManualSim, seconds_per_tick: float = 0.5) -> AsyncIterator[None]:
    """Advance the simulator's clock in the background: jobs emit events as they run."""

    async def tick() -> None:
        for _ in range(2000):  # bounded: far more than any test needs
            sim.clock.advance(seconds_per_tick)
            await asyncio.sleep(0.02)

    task = asyncio.create_task(tick())
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def all_caught_up(redis: aioredis.Redis, sim: ManualSim) -> bool:
    for job in JOBS:
        if await stream_ids(redis, job) != sim.upstream_ids(job):
            return False
    return True


async def test_sigkill_mid_run_loses_and_doubles_nothing(
    redis: aioredis.Redis, manual_sim: ManualSim, start_poller: StartPoller
) -> None:
    first = start_poller("replica-a")
    await first.wait_healthy()
    async with running_jobs(manual_sim):
        await eventually(lambda: _some_events(redis), message="events flowing")
        first.kill()
        manual_sim.clock.advance(20)  # events keep appearing while nobody polls
        second = start_poller("replica-a")
        await second.wait_healthy()
    await eventually(
        lambda: all_caught_up(redis, manual_sim),
        timeout=20,
        message="every event once, in order, after the restart",
    )


async def test_two_replicas_share_jobs_and_survive_one_dying(
    redis: aioredis.Redis, manual_sim: ManualSim, start_poller: StartPoller
) -> None:
    a, b = start_poller("replica-a"), start_poller("replica-b")
    await a.wait_healthy()
    await b.wait_healthy()
    async with running_jobs(manual_sim):
        await eventually(lambda: _some_events(redis), message="events flowing")
        a.kill()
        manual_sim.clock.advance(10)
    await eventually(
        lambda: all_caught_up(redis, manual_sim),
        timeout=20,
        message="the surviving replica catches up on every job",
    )
    assert b.proc is not None and b.proc.poll() is None


async def test_upstream_faults_lose_nothing_and_are_counted(
    redis: aioredis.Redis, manual_sim: ManualSim, start_poller: StartPoller
) -> None:
    async with aiohttp.ClientSession() as http:
        faults = {
            "error_rate_5xx": 0.2,
            "rate_429": 0.1,
            "retry_after_s": 1,
            "truncate_rate": 0.05,
            "seed": 7,
        }
        async with http.put(f"{manual_sim.url}/_sim/faults", json=faults) as resp:
            assert resp.status == 200
        proc = start_poller("replica-a")
        await proc.wait_healthy()
        async with running_jobs(manual_sim, seconds_per_tick=0.2):
            await asyncio.sleep(3)
        await eventually(
            lambda: all_caught_up(redis, manual_sim),
            timeout=40,
            message="every event once despite 5xx, 429 and truncated bodies",
        )
        async with http.get(f"{proc.url}/metrics") as resp:
            scrape = await resp.text()
    assert proc.proc is not None and proc.proc.poll() is None
    counted = _counter(scrape, "ftwatch_upstream_requests_total")
    assert any(code.startswith("5") for code in counted)
    assert "429" in counted


async def _some_events(redis: aioredis.Redis) -> bool:
    return bool(await redis.xlen("ftwatch:events") > 20)


def _counter(scrape: str, name: str) -> dict[str, float]:
    """code label -> summed value of a counter in a Prometheus text scrape."""
    totals: dict[str, float] = {}
    for line in scrape.splitlines():
        if line.startswith(name + "{") and 'code="' in line:
            code = line.split('code="', 1)[1].split('"', 1)[0]
            totals[code] = totals.get(code, 0.0) + float(line.rsplit(" ", 1)[1])
    return totals
