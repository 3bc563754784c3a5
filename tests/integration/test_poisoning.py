"""The review's poisoning, as a regression: events pushed to /v1/ingest/events for the id of
an upstream job live under `ingest:<id>` and never touch that job's rules."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from service.settings import Settings
from simulator.curves import Curve
from simulator.presets import DEMO_DIVERGES, DEMO_PLATEAU, default_scenario
from simulator.scenario import Scenario
from tests.integration.conftest import Pipeline
from tests.support import eventually

HEALTHY = DEMO_PLATEAU  # the same job, with a reward that keeps improving here


TOKEN = "test-token"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_token": SecretStr(TOKEN)})


@pytest.fixture
def scenario() -> Scenario:
    full = default_scenario(step_period=0.1)
    jobs = []
    rising = Curve(kind="linear", start=0.3, end=0.9)
    improving = {"metrics": {"train_reward_mean": rising, "valid_reward_mean": rising}}
    for job in full.jobs:
        changes: dict[str, object] = {"start_after": 1.0}
        if job.id == DEMO_PLATEAU:
            changes |= improving
        if job.id in (DEMO_PLATEAU, DEMO_DIVERGES):
            jobs.append(job.model_copy(update=changes))
    return full.model_copy(update={"jobs": jobs})


def _poison(job_id: str, event_id: str, data: dict[str, float]) -> dict[str, object]:
    return {
        "job_id": job_id,
        "event_id": event_id,
        "created_at": 1,
        "type": "metrics",
        "data": data,
    }


async def _ingest(pipeline: Pipeline, events: list[dict[str, object]]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{pipeline.app_url}/v1/ingest/events"
    async with pipeline.http.post(url, json={"events": events}, headers=headers) as resp:
        assert resp.status == 200, await resp.text()


async def test_ingested_events_never_reach_the_polled_job_of_the_same_id(
    pipeline: Pipeline,
) -> None:
    await _ingest(
        pipeline,
        [
            _poison(HEALTHY, "p1", {"step": 1, "valid_reward_mean": 1000.0}),
            _poison(DEMO_DIVERGES, "p2", {"step": 1_000_000, "train_loss": 0.1}),
        ],
    )

    async def cancelled() -> bool:
        return await pipeline.job_status(DEMO_DIVERGES) == "cancelled"

    async def healthy_done() -> bool:
        return await pipeline.job_status(HEALTHY) in ("succeeded", "paused")

    # The diverging job's NaN loss is seen at its real steps and cancels it ...
    await eventually(cancelled, timeout=60, message="the diverging job cancelled")
    await eventually(healthy_done, timeout=60, message="the healthy job finished")
    # ... and the improving job, whose id was poisoned with a best of 1000, is never paused.
    assert await pipeline.sim_actions(HEALTHY) == []
    assert await pipeline.sim_actions(DEMO_DIVERGES) == ["cancel"]
    rules = {f.rule for f in await pipeline.firings() if f.job.provider == "openai"}
    assert "reward-plateau" not in rules
