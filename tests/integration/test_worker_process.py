"""Real worker processes: a crash mid-plateau and two replicas still pause exactly once."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from service.models.firing import Firing
from service.store import keys
from simulator.curves import Curve
from simulator.scenario import JobSpec
from tests.integration.conftest import ManualSim, StartFtwatch
from tests.support import eventually, recorded_firings

JOB = "ftjob-plateau"
RULES = """
rules:
  - name: reward-plateau
    when: {plateau: {metric: valid_reward_mean, mode: max, patience: 4, min_delta: 0.01}}
    do: [pause]
"""


@pytest.fixture
def sim_jobs() -> list[JobSpec]:
    # Improves for 5 steps, then flat: patience 4 runs out at step 9 (one eval per step).
    flat_after_5 = Curve(kind="plateau", start=0.3, end=0.6, plateau_at=5)
    return [
        JobSpec(
            id=JOB,
            method="reinforcement",
            step_period=1.0,
            start_after=0.0,
            total_steps=40,
            eval_interval=1,
            metrics={"valid_reward_mean": flat_after_5},
        )
    ]


@pytest.fixture
def rules_env(tmp_path: Path) -> dict[str, str]:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    return {"FTWATCH_RULES": str(path)}


async def plateau_wait(redis: aioredis.Redis) -> int:
    raw = await redis.hget(keys.rule_state(f"openai:{JOB}"), "reward-plateau")
    return int(json.loads(raw)["detector"]["wait"]) if raw else 0


async def pauses(sim: ManualSim) -> list[str]:
    return [a.action for a in sim.platform.actions if a.job_id == JOB and a.action == "pause"]


async def firings(redis: aioredis.Redis) -> list[Firing]:
    return [f for f in await recorded_firings(redis) if f.rule == "reward-plateau"]


async def step_until(
    sim: ManualSim, probe: Callable[[], Awaitable[bool]], redis: aioredis.Redis, limit: int
) -> None:
    """Advance the job one step at a time until `probe()` holds (bounded)."""
    for _ in range(limit):
        if await probe():
            return
        sim.clock.advance(1)
        await eventually(lambda: _stream_has_step(redis, sim), timeout=10, message="step ingested")
    raise AssertionError("condition not reached")


async def _stream_has_step(redis: aioredis.Redis, sim: ManualSim) -> bool:
    """The poller has ingested the simulator's latest step of the job."""
    row = next(r for r in sim.platform.summary()["data"] if r["id"] == JOB)
    stored = await redis.hget(keys.job(f"openai:{JOB}"), "step")
    return row["step"] == 0 or stored == str(row["step"])


async def test_worker_killed_halfway_through_a_plateau_still_pauses_once(
    redis: aioredis.Redis,
    manual_sim: ManualSim,
    start_ftwatch: StartFtwatch,
    rules_env: dict[str, str],
) -> None:
    poller = start_ftwatch("poller-1", "poller", rules_env)
    worker = start_ftwatch("worker-1", "worker", rules_env)
    await poller.wait_healthy()
    await worker.wait_healthy()

    async def halfway() -> bool:
        return await plateau_wait(redis) >= 2

    await step_until(manual_sim, halfway, redis, limit=30)
    worker.kill()
    manual_sim.clock.advance(5)  # the rest of the plateau happens while no worker runs
    restarted = start_ftwatch("worker-2", "worker", rules_env)  # a new pod, a new name
    await restarted.wait_healthy()
    await eventually(lambda: pauses(manual_sim), timeout=20, message="the job was paused")
    manual_sim.clock.advance(10)
    await eventually(lambda: one_firing(redis), timeout=10, message="one firing recorded")
    assert await pauses(manual_sim) == ["pause"]


# Over TLS too: the three processes' every connection (poller, consumer groups, leases,
# actions) on a TLS-only redis-server, the CA named in rediss://…?ssl_ca_certs=.
@pytest.mark.parametrize("redis_server", ["plain", "tls"], indirect=True)
async def test_two_workers_pause_once_per_firing(
    redis: aioredis.Redis,
    manual_sim: ManualSim,
    start_ftwatch: StartFtwatch,
    rules_env: dict[str, str],
) -> None:
    procs = [
        start_ftwatch("poller-1", "poller", rules_env),
        start_ftwatch("worker-a", "worker", rules_env),
        start_ftwatch("worker-b", "worker", rules_env),
    ]
    for proc in procs:
        await proc.wait_healthy()
    for _ in range(15):
        manual_sim.clock.advance(1)
        await eventually(lambda: _stream_has_step(redis, manual_sim), message="step ingested")
    await eventually(lambda: pauses(manual_sim), timeout=20, message="the job was paused")
    await eventually(lambda: one_firing(redis), timeout=10, message="one firing recorded")
    assert await pauses(manual_sim) == ["pause"]


async def one_firing(redis: aioredis.Redis) -> bool:
    return len(await firings(redis)) == 1
