"""The whole pipeline on real parts: simulator, redis-server, ftwatch app, all on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.app import create_app
from service.models.audit import ActionRecord
from service.models.event import NormalizedEvent
from service.models.firing import Firing
from service.settings import Settings
from service.store import keys
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.presets import default_scenario
from simulator.scenario import JobSpec, Scenario
from tests.support import (
    FtwatchProcess,
    RedisServer,
    every_partition,
    recorded_actions,
    recorded_firings,
    served,
)
from workers.rules.loading import parse_rules_text

# The default rules, with durations a test can wait for.
FAST_RULES = """
rules:
  - name: reward-plateau
    match: {method: reinforcement}
    when: {plateau: {metric: valid_reward_mean, mode: max, patience: 3, min_delta: 0.01}}
    do: [pause, {notify: log}]
  - name: grader-errors
    match: {method: reinforcement}
    when: {error_rate: {threshold: 0.25, window_steps: 3}}
    do: [pause, {resume: {after: 1s, max_times: 1}}, {notify: log}]
  - name: loss-divergence
    match: {method: [supervised, dpo]}
    when: {threshold: {metric: train_loss, above: 5.0, non_finite: true}}
    do: [cancel, {notify: log}]
  - name: finished
    when: {status: [succeeded, failed, cancelled]}
    do: [{notify: log}]
"""


@dataclass
class Pipeline:
    """A running simulator and ftwatch; helpers read both sides' records."""

    sim_url: str
    app_url: str
    http: aiohttp.ClientSession
    redis: aioredis.Redis

    async def sim(self, path: str) -> Any:
        async with self.http.get(self.sim_url + path) as resp:
            return await resp.json()

    async def sim_actions(self, job_id: str) -> list[str]:
        calls = await self.sim(f"/_sim/actions?job_id={job_id}")
        return [c["action"] for c in calls["actions"] if c["outcome"] == "ok"]

    async def job_status(self, job_id: str) -> str:
        jobs = await self.sim("/_sim/jobs")
        return str(next(j["status"] for j in jobs["data"] if j["id"] == job_id))

    async def firings(self) -> list[Firing]:
        """The firings on the audit log (each once), oldest first."""
        return await recorded_firings(self.redis)

    async def actions(self) -> list[ActionRecord]:
        """The actions' outcomes on the audit log, oldest first."""
        return await recorded_actions(self.redis)


@pytest.fixture
def scenario() -> Scenario:
    return default_scenario(step_period=0.1)


@pytest.fixture
async def pipeline(
    settings: Settings, redis: aioredis.Redis, scenario: Scenario
) -> AsyncIterator[Pipeline]:
    async with served(create_simulator(scenario)) as sim_url:
        app_settings = settings.model_copy(
            update={
                "openai_base_url": f"{sim_url}/v1",
                "poll_interval": 0.2,
                "rule_tick_interval": 0.2,
            }
        )
        app = create_app(app_settings, role="all", rules=parse_rules_text(FAST_RULES))
        async with served(app) as app_url, aiohttp.ClientSession() as http:
            yield Pipeline(sim_url, app_url, http, redis)


@dataclass
class ManualSim:
    """A simulator whose jobs move only when the test moves its clock."""

    platform: Platform
    clock: ManualClock
    url: str

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    async def set_faults(self, **changes: object) -> None:
        """Change the simulator's fault injection (PATCH merges into the current settings)."""
        async with (
            aiohttp.ClientSession() as http,
            http.patch(f"{self.url}/_sim/faults", json=changes) as resp,
        ):
            assert resp.status == 200, await resp.text()

    def upstream_ids(self, job_id: str) -> list[str]:
        """Every event id the job has shown so far, oldest first."""
        return [row["id"] for row in self.platform.visibility(job_id)]


def rft_job(job_id: str, *, total_steps: int = 400) -> JobSpec:
    return JobSpec(
        id=job_id,
        method="reinforcement",
        step_period=1.0,
        start_after=0.0,
        total_steps=total_steps,
        eval_interval=5,
    )


@pytest.fixture
def sim_jobs() -> list[JobSpec]:
    """The jobs of `manual_sim`; a test module overrides this fixture for its own."""
    return [rft_job(f"ftjob-poll-{n}") for n in range(3)]


@pytest.fixture
async def manual_sim(sim_jobs: list[JobSpec]) -> AsyncIterator[ManualSim]:
    clock = ManualClock()
    platform = Platform(Scenario(jobs=sim_jobs), now=clock.now, wall=clock.wall)
    async with served(create_simulator(platform)) as url:
        yield ManualSim(platform, clock, url)


async def stream_ids(redis: aioredis.Redis, job_id: str) -> list[str]:
    """The upstream event ids of a job in `ftwatch:events`, in stream order."""
    entries = await every_partition(redis, keys.events_stream)
    events = [NormalizedEvent.model_validate_json(fields["e"]) for _, fields in entries]
    return [e.event_id for e in events if e.job_id == job_id and e.type != "status"]


StartFtwatch = Callable[[str, str, dict[str, str]], FtwatchProcess]


@pytest.fixture
def start_ftwatch(
    redis_server: RedisServer, manual_sim: ManualSim, tmp_path: Path
) -> Iterator[StartFtwatch]:
    """`start_ftwatch(name, role, env)`: a real `ftwatch run` on the test's Redis and simulator."""
    procs: list[FtwatchProcess] = []

    def start(name: str, role: str, env: dict[str, str]) -> FtwatchProcess:
        base = {
            "FTWATCH_REDIS_URL": redis_server.url,
            "OPENAI_BASE_URL": manual_sim.base_url,
            "OPENAI_API_KEY": "sk-test",
            "FTWATCH_POLL_INTERVAL": "0.2",
            "FTWATCH_DISCOVERY_INTERVAL": "0.5",
            "FTWATCH_REPLICA_NAME": name,
            "FTWATCH_CLAIM_IDLE_SECONDS": "1",
            "FTWATCH_RULE_TICK_INTERVAL": "0.2",
        }
        proc = FtwatchProcess({**base, **env}, tmp_path / f"{name}.log", role=role)
        proc.start()
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.kill()
