"""A polled job's status as a user reads it: ftwatch's lifecycle name, the vendor's beside it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from service.app import create_app
from service.metrics import Metrics
from service.settings import Settings
from tests.integration.conftest import ManualSim
from tests.support import eventually, served
from workers.rules.loading import parse_rules_text

JOB = "ftjob-poll-0"


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def api(settings: Settings, manual_sim: ManualSim, metrics: Metrics) -> AsyncIterator[str]:
    app_settings = settings.model_copy(update={"openai_base_url": manual_sim.base_url})
    rules = parse_rules_text("rules: []\n")
    async with served(create_app(app_settings, role="all", metrics=metrics, rules=rules)) as url:
        yield url


async def _get(url: str, *, found: bool = True) -> Any:
    """The JSON body; None for a 404 when `found` is False (the job not polled yet)."""
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        if resp.status == 404 and not found:
            return None
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def test_a_pending_job_shows_queued_with_its_raw_status(
    api: str, manual_sim: ManualSim, metrics: Metrics
) -> None:
    manual_sim.clock.advance(2)

    async def job_is(status: str, raw: str) -> bool:
        job = await _get(f"{api}/v1/jobs/{JOB}", found=False)
        return job is not None and (job["status"], job["raw_status"]) == (status, raw)

    await eventually(lambda: job_is("running", "running"), message="first poll")
    manual_sim.platform.set_status(JOB, "pending")
    await eventually(lambda: job_is("queued", "pending"), message="pending read as queued")
    listed = await _get(f"{api}/v1/jobs?status=queued")
    assert [j["job_id"] for j in listed["data"]] == [JOB]
    assert [j["job_id"] for j in (await _get(f"{api}/v1/jobs?status=pending"))["data"]] == [JOB]
    events = (await _get(f"{api}/v1/jobs/{JOB}/events"))["data"]
    change = next(e["event"] for e in events if e["event"]["type"] == "status")
    assert change["data"] == {"from": "running", "to": "queued"}

    async def census() -> float | None:
        return metrics.registry.get_sample_value(
            "ftwatch_jobs_watched", {"provider": "openai", "status": "queued"}
        )

    await eventually(census, message="the census counts lifecycle statuses")
    assert (
        metrics.registry.get_sample_value(
            "ftwatch_jobs_watched", {"provider": "openai", "status": "pending"}
        )
        is None
    )

    manual_sim.platform.set_status(JOB, "defrosting")  # a status nobody has mapped
    await eventually(lambda: job_is("unknown", "defrosting"), message="unknown, raw kept")
