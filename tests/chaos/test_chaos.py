"""Chaos: 50 jobs through real ftwatch processes while replicas, Redis, upstream and receiver fail.

Per seed: two `ftwatch run` replicas or split roles (two pollers, two workers, one
API), a redis-server with AOF, the simulator and a webhook receiver; for 30 s the
seeded plan SIGKILLs and restarts replicas, restarts Redis, switches upstream faults
(5xx, 429 + Retry-After, latency, truncated bodies) on and off and makes the receiver
fail. Then, from the simulator's, the receiver's and the stream's own records: every
job paused, resumed or cancelled exactly as its rule says, healthy jobs untouched,
every notification accepted under one webhook-id, every upstream event in the stream
once, in order; the cadence model's predictions made and hit, the slow jobs' polls timed
by them. Each run's summary is printed at the end of the session.

Replay: FTWATCH_CHAOS_SEED=5 (or 5,6,7) runs those seeds; FTWATCH_CHAOS_TOPOLOGY=split
or replicas forces a topology; FTWATCH_CHAOS_REDIS=sentinel (or single) forces the Redis;
FTWATCH_CHAOS_INTENSITY=2 doubles the disruptions.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.cluster import Topology
from tests.chaos.run import run_chaos
from tests.chaos.summary import REPORTS, render
from tests.ha import SentinelSet
from tests.support import RedisServer

SEEDS = (1, 2, 3)
TOPOLOGIES: tuple[Topology, ...] = ("replicas", "split")


def _runs() -> list[Any]:
    raw = os.environ.get("FTWATCH_CHAOS_SEED")
    seeds = [int(s) for s in raw.split(",")] if raw else list(SEEDS)
    forced = os.environ.get("FTWATCH_CHAOS_TOPOLOGY")
    # On a Sentinel set (opt-in: a minute per seed) the plan's Redis restarts become
    # planned failovers (SENTINEL FAILOVER).
    kind = os.environ.get("FTWATCH_CHAOS_REDIS", "single")
    label = "" if kind == "single" else f"-{kind}"
    runs = []
    for seed in seeds:
        topology = forced or TOPOLOGIES[seed % len(TOPOLOGIES)]
        runs.append(pytest.param(seed, topology, kind, id=f"seed{seed}-{topology}{label}"))
    return runs


@pytest.fixture
async def chaos_redis(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[RedisServer | SentinelSet]:
    """A redis-server with AOF (fsync always) that the plan kills and restarts, or a
    Sentinel set that the plan fails over."""
    server: RedisServer | SentinelSet
    if request.param == "sentinel":
        server = SentinelSet(tmp_path / "ha")
    else:
        server = RedisServer(tmp_path / "redis")
        server.workdir.mkdir()
    await asyncio.to_thread(server.start)  # the simulator shares this event loop
    try:
        if isinstance(server, SentinelSet):
            await server.ready()
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.mark.timeout(150)
@pytest.mark.parametrize(("seed", "topology", "chaos_redis"), _runs(), indirect=["chaos_redis"])
async def test_chaos(
    seed: int, topology: Topology, tmp_path: Path, chaos_redis: RedisServer | SentinelSet
) -> None:
    intensity = float(os.environ.get("FTWATCH_CHAOS_INTENSITY", "1"))
    outcome = await run_chaos(seed, topology, tmp_path, chaos_redis, intensity)
    report = render(outcome.facts, outcome.verdict)
    REPORTS.append(report)
    (tmp_path / "summary.txt").write_text(report + "\n\n" + "\n".join(outcome.timeline) + "\n")
    print(report, *outcome.timeline, sep="\n")
    assert not outcome.verdict.problems, report
