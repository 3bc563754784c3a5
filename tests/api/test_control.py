"""POST /v1/jobs/{id}/pause|resume|cancel: performed, and recorded as done by the API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp import web
from pydantic import SecretStr

from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.api.conftest import TOKEN, Api, StartApi, seed_job


@pytest.fixture
async def platform() -> AsyncIterator[tuple[Platform, str]]:
    """The simulator (a faithful fake of the upstream) with one running job."""
    clock = ManualClock()
    spec = JobSpec(id="ftjob-sim", start_after=0, step_period=100, total_steps=50)
    sim = Platform(Scenario(jobs=[spec]), now=clock.now, wall=clock.wall)
    runner = web.AppRunner(create_simulator(sim), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield sim, f"http://127.0.0.1:{runner.addresses[0][1]}/v1"
    finally:
        await runner.cleanup()


async def audit_of(api: Api, job_id: str) -> list[dict[str, Any]]:
    _, body = await api.get("/v1/actions", params={"job_id": job_id})
    return [entry["firing"] for entry in body["data"]]


async def test_pause_calls_the_upstream_and_is_audited(
    start_api: StartApi, platform: tuple[Platform, str], redis: aioredis.Redis
) -> None:
    sim, base_url = platform
    served = await start_api(
        api_token=SecretStr(TOKEN), openai_base_url=base_url, openai_api_key=SecretStr("sk-test")
    )
    await seed_job(redis, "ftjob-sim", step=3)
    status, body = await served.post("/v1/jobs/ftjob-sim/pause", auth=True)
    assert status == 200, body
    assert body["action"] == "pause"
    assert body["result"]["outcome"] == "ok"
    assert body["firing_id"].startswith("api:")
    assert sim.get_job("ftjob-sim")["status"] in {"pausing", "paused"}
    [record] = await audit_of(served, "ftjob-sim")
    assert (record["rule"], record["kind"]) == ("api", "manual")
    assert record["firing_id"] == body["firing_id"]
    # Cancelling a paused job is a separate request and a separate audit record.
    status, body = await served.post("/v1/jobs/ftjob-sim/cancel", auth=True)
    assert (status, body["result"]["outcome"]) == (200, "ok")
    assert sim.get_job("ftjob-sim")["status"] in {"cancelled"}
    assert len(await audit_of(served, "ftjob-sim")) == 2


async def test_ingested_jobs_get_decisions(api: Api, redis: aioredis.Redis) -> None:
    await seed_job(redis, "trl-run", source="ingest")
    outcomes = {}
    for action in ("pause", "resume", "cancel"):
        status, body = await api.post(f"/v1/jobs/trl-run/{action}", auth=True)
        assert status == 200, body
        outcomes[action] = body["result"]["outcome"]
    # Pause and cancel wait for the trainer; the job is still running (no ack yet).
    assert outcomes == {"pause": "queued", "resume": "already", "cancel": "queued"}
    status, job = await api.get("/v1/jobs/trl-run")
    assert [d["action"] for d in job["decisions"]] == ["pause", "cancel"]
    records = await audit_of(api, "trl-run")
    assert [r["actions"][0]["action"] for r in records] == ["cancel", "resume", "pause"]


async def test_unknown_job(api: Api) -> None:
    status, body = await api.post("/v1/jobs/ftjob-nope/pause", auth=True)
    assert (status, body["error"]["code"]) == (404, "job_not_found")
