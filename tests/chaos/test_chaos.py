"""Chaos: 50 jobs through real ftwatch processes while replicas, Redis, upstream and receiver fail.

Per seed: two `ftwatch run` replicas or split roles (two pollers, two workers, one
API), a redis-server with AOF, the simulator and a webhook receiver; for 30 s the
seeded plan SIGKILLs and restarts replicas, restarts Redis, switches upstream faults
(5xx, 429 + Retry-After, latency, truncated bodies) on and off and makes the receiver
fail. Then, from the simulator's, the receiver's and the stream's own records: every
job paused, resumed or cancelled exactly as its rule says, healthy jobs untouched,
every notification accepted under one webhook-id, every upstream event in the stream
once, in order. Each run's summary is printed at the end of the session.

Replay: FTWATCH_CHAOS_SEED=5 (or 5,6,7) runs those seeds; FTWATCH_CHAOS_TOPOLOGY=split
or replicas forces a topology; FTWATCH_CHAOS_INTENSITY=2 doubles the disruptions.
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
from tests.support import RedisServer

SEEDS = (1, 2, 3)
TOPOLOGIES: tuple[Topology, ...] = ("replicas", "split")


def _runs() -> list[Any]:
    raw = os.environ.get("FTWATCH_CHAOS_SEED")
    seeds = [int(s) for s in raw.split(",")] if raw else list(SEEDS)
    forced = os.environ.get("FTWATCH_CHAOS_TOPOLOGY")
    runs = []
    for seed in seeds:
        topology = forced or TOPOLOGIES[seed % len(TOPOLOGIES)]
        runs.append(pytest.param(seed, topology, id=f"seed{seed}-{topology}"))
    return runs


@pytest.fixture
async def aof_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """A redis-server with AOF (fsync always) that the plan kills and restarts."""
    server = RedisServer(tmp_path / "redis")
    server.workdir.mkdir()
    await asyncio.to_thread(server.start)  # the simulator shares this event loop
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@pytest.mark.timeout(150)
@pytest.mark.parametrize(("seed", "topology"), _runs())
async def test_chaos(seed: int, topology: Topology, tmp_path: Path, aof_redis: RedisServer) -> None:
    intensity = float(os.environ.get("FTWATCH_CHAOS_INTENSITY", "1"))
    outcome = await run_chaos(seed, topology, tmp_path, aof_redis, intensity)
    report = render(outcome.facts, outcome.verdict)
    REPORTS.append(report)
    (tmp_path / "summary.txt").write_text(report + "\n\n" + "\n".join(outcome.timeline) + "\n")
    print(report, *outcome.timeline, sep="\n")
    assert not outcome.verdict.problems, report
