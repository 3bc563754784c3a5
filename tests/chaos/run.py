"""One chaos run: start everything, play the fleet under the plan, settle, judge.

The simulator (real clock) and the webhook receiver run in the test process on
127.0.0.1; Redis (AOF, fsync always) and the ftwatch replicas are child processes.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis

from service.store import keys
from service.store.connection import connect_redis
from simulator.app import create_app as create_simulator
from simulator.platform import Platform
from simulator.routes_api import STATE, SimState
from simulator.scenario import Scenario
from tests.chaos.cluster import ROLES, Cluster, Replica, Topology, chaos_env
from tests.chaos.fleet import ChaosJob, build_fleet, describe, rules_text
from tests.chaos.judge import (
    Verdict,
    judge_actions,
    judge_events,
    judge_notices,
    judge_predictions,
    read_stream,
)
from tests.chaos.predictions import PredictionTally
from tests.chaos.receiver import SECRET, ChaosReceiver
from tests.chaos.schedule import Plan, build_plan
from tests.chaos.settle import settle
from tests.chaos.summary import RunFacts
from tests.ha import SentinelSet
from tests.support import RedisServer, served

CHAOS_WINDOW = 30.0
# Past the chaos the jobs still run ~10 s; a delivery whose worker was killed
# mid-attempt waits out its lease (receiver timeout 2 s + 15 s margin).
SETTLE_TIMEOUT = 45.0


@dataclass
class Outcome:
    """The judged run, the facts for its summary, and the timeline of disruptions."""

    facts: RunFacts
    verdict: Verdict = field(default_factory=Verdict)
    timeline: list[str] = field(default_factory=list)


async def play(cluster: Cluster, plan: Plan) -> None:
    """Apply each disruption at its moment; returns once the window is over and all ended."""
    started = time.monotonic()

    async def at(index: int) -> None:
        item = plan.disruptions[index]
        await asyncio.sleep(max(0.0, item.at - (time.monotonic() - started)))
        await cluster.apply(item)

    await asyncio.gather(*(at(i) for i in range(len(plan.disruptions))))
    await asyncio.sleep(max(0.0, plan.window - (time.monotonic() - started)))


async def judge(
    fleet: list[ChaosJob],
    platform: Platform,
    receiver: ChaosReceiver,
    client: aioredis.Redis,
    outcome: Outcome,
) -> None:
    """Judge the records; the counts go to the verdict, the rest to the facts."""
    facts, verdict = outcome.facts, outcome.verdict
    judge_actions(fleet, platform, verdict)
    judge_notices(fleet, receiver, verdict)
    entries: Any = await client.xrange(keys.EVENTS_STREAM)
    stream = read_stream(entries)
    lags = sorted(judge_events(fleet, platform, stream, verdict))
    if lags:
        facts.lag = (statistics.median(lags), lags[int(len(lags) * 0.99)], lags[-1])
    facts.dead_letters = int(await client.xlen(keys.DEAD_DELIVERIES_STREAM))
    verdict.expect(facts.unsettled is None, f"did not settle: {facts.unsettled}")
    verdict.expect(facts.dead_letters == 0, "webhook deliveries were dead-lettered")


@contextlib.asynccontextmanager
async def _sampling(tally: PredictionTally) -> AsyncIterator[None]:
    """The tally samples the replicas for the block's duration."""
    stop = asyncio.Event()
    task = asyncio.create_task(tally.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task


def _sim_facts(facts: RunFacts, sim: SimState) -> None:
    facts.injected = {kind: n for kind, n in sim.faults.injected.items() if n}
    facts.upstream_requests = sum(sim.stats.by_status.values())


async def run_chaos(
    seed: int,
    topology: Topology,
    workdir: Path,
    redis: RedisServer | SentinelSet,
    intensity: float = 1.0,
) -> Outcome:
    """The whole run for one seed; never raises for what it judges (see Outcome.verdict)."""
    began = time.monotonic()
    fleet = build_fleet(seed)
    platform = Platform(Scenario(seed=seed))
    sim_app = create_simulator(platform)
    receiver = ChaosReceiver()
    outcome = Outcome(RunFacts(seed, topology, sorted(ROLES[topology]), describe(fleet)))
    client = connect_redis(redis.url, retries=10)
    async with served(sim_app) as sim_url, served(receiver.app()) as receiver_url:
        rules = workdir / "rules.yaml"
        rules.write_text(rules_text(f"{receiver_url}/ops"))
        env = chaos_env(redis.url, sim_url, rules, SECRET)
        logs = workdir / "logs"
        logs.mkdir()
        outcome.facts.logs = str(logs)
        slots = ROLES[topology]
        replicas = {name: Replica(name, role, env, logs) for name, role in slots.items()}
        cluster = Cluster(redis, sim_app[STATE], receiver, replicas)
        try:
            cluster.start_all()
            await cluster.wait_healthy()
            tally = PredictionTally(list(replicas.values()))
            async with _sampling(tally):
                for job in fleet:  # the jobs' clocks start now, with every replica up
                    platform.add_job(job.spec)
                await play(cluster, build_plan(seed, list(replicas), CHAOS_WINDOW, intensity))
                chaos_end = time.monotonic()
                outcome.facts.unsettled = await settle(client, platform, SETTLE_TIMEOUT)
                outcome.facts.settle = time.monotonic() - chaos_end
            judge_predictions(fleet, tally, outcome.verdict)
            await judge(fleet, platform, receiver, client, outcome)
        finally:
            await asyncio.to_thread(cluster.kill_all)
            await client.aclose()
    _sim_facts(outcome.facts, sim_app[STATE])
    outcome.facts.done = cluster.done
    outcome.facts.runtime = time.monotonic() - began
    outcome.timeline = cluster.log
    return outcome
