"""Cadence-aware polling against the simulator on the real clock and a real redis-server."""

from __future__ import annotations

import aiohttp
import redis.asyncio as aioredis

from service.app import create_app
from service.metrics import Metrics
from service.settings import Settings
from service.store import keys
from simulator.app import create_app as create_simulator
from simulator.scenario import JobSpec, Scenario
from tests.integration.conftest import stream_ids
from tests.support import eventually, served
from workers.rules.loading import parse_rules_text

NO_RULES = parse_rules_text("rules: []")
JOB = "ftjob-steady"
STEPS, BEHIND, PERIOD = 10, 4, 3.0
# Already running with a few steps behind it: its history teaches the model its pace.
STEADY = JobSpec(
    id=JOB,
    step_period=PERIOD,
    total_steps=STEPS,
    start_after=1.0,
    elapsed=1.0 + (BEHIND + 0.5) * PERIOD,
)


def polls(metrics: Metrics) -> float:
    labels = {"provider": "openai", "endpoint": "list_events", "code": "200"}
    return metrics.registry.get_sample_value("ftwatch_upstream_requests_total", labels) or 0.0


async def _visible_ids(http: aiohttp.ClientSession, sim_url: str) -> list[str]:
    async with http.get(f"{sim_url}/_sim/jobs/{JOB}/visible") as resp:
        rows = (await resp.json())["data"]
    return [str(row["id"]) for row in rows]


async def _done(redis: aioredis.Redis) -> bool:
    """Terminal, drained and dropped from the schedule."""
    return await redis.hget(keys.job(f"openai:{JOB}"), "done") == "1"


async def test_a_steady_job_needs_fewer_polls_than_two_per_event_and_loses_none(
    settings: Settings, redis: aioredis.Redis
) -> None:
    metrics = Metrics()
    async with served(create_simulator(Scenario(jobs=[STEADY]))) as sim_url:
        # Every interval would be three polls per step; the bound (8 s) is far above one.
        changes = {
            "openai_base_url": f"{sim_url}/v1",
            "poll_interval": 1.0,
            "max_poll_factor": 8.0,
            "discovery_interval": 60,
        }
        app = create_app(
            settings.model_copy(update=changes), role="poller", metrics=metrics, rules=NO_RULES
        )
        async with served(app), aiohttp.ClientSession() as http:
            await eventually(lambda: _done(redis), timeout=45, message="job finished, drained")
            upstream = await _visible_ids(http, sim_url)
    assert await stream_ids(redis, JOB) == upstream  # every event, once, in order
    assert polls(metrics) < 2 * (STEPS - BEHIND)  # the steps it watched happen
    hits = metrics.registry.get_sample_value("ftwatch_poll_predictions_total", {"outcome": "hit"})
    assert hits is not None and hits >= (STEPS - BEHIND) / 2
