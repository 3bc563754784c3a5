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


async def audit_of(api: Api, job_id: str, record: str = "firing") -> list[dict[str, Any]]:
    """The job's firings (or actions) on the audit log, newest first."""
    _, body = await api.get("/v1/actions", params={"job_id": job_id})
    return [entry[record] for entry in body["data"] if entry["record"] == record]


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
    # The request is a firing, recorded once; its pause an action entry naming it.
    [record] = await audit_of(served, "ftjob-sim")
    assert (record["rule"], record["kind"]) == ("api", "manual")
    assert record["reason"] == "pause requested through the API"
    assert record["firing_id"] == body["firing_id"]
    [done] = await audit_of(served, "ftjob-sim", "action")
    assert (done["firing_id"], done["action"], done["outcome"]) == (
        body["firing_id"],
        "pause",
        "ok",
    )
    assert (done["actor"], done["at"]) == ("api", body["result"]["at"])
    # Cancelling a paused job is a separate request and a separate audit record.
    status, body = await served.post("/v1/jobs/ftjob-sim/cancel", auth=True)
    assert (status, body["result"]["outcome"]) == (200, "ok")
    assert sim.get_job("ftjob-sim")["status"] in {"cancelled"}
    assert len(await audit_of(served, "ftjob-sim")) == 2
    assert len(await audit_of(served, "ftjob-sim", "action")) == 2


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
    records = await audit_of(api, "trl-run", "action")
    assert [r["action"] for r in records] == ["cancel", "resume", "pause"]
    assert [r["outcome"] for r in records] == ["queued", "already", "queued"]
    assert len(await audit_of(api, "trl-run")) == 3  # each request's firing, once


async def test_unknown_job(api: Api) -> None:
    status, body = await api.post("/v1/jobs/ftjob-nope/pause", auth=True)
    assert (status, body["error"]["code"]) == (404, "job_not_found")


async def test_a_manual_action_records_who_asked_and_why(
    start_api: StartApi, platform: tuple[Platform, str], redis: aioredis.Redis
) -> None:
    _, base_url = platform
    served = await start_api(
        api_token=SecretStr(TOKEN), openai_base_url=base_url, openai_api_key=SecretStr("sk-test")
    )
    await seed_job(redis, "ftjob-sim", step=3)
    why = {"actor": "alice", "reason": "reward looks flat to me"}
    status, body = await served.post("/v1/jobs/ftjob-sim/pause", json=why, auth=True)
    assert (status, body["by"]) == (200, "api:alice"), body
    headers = {"X-Ftwatch-Actor": "nightly-script"}
    status, body = await served.post("/v1/jobs/ftjob-sim/cancel", headers=headers, auth=True)
    assert (status, body["by"]) == (200, "api:nightly-script"), body
    cancel, pause = await audit_of(served, "ftjob-sim")
    assert (pause["rule"], pause["reason"]) == ("api:alice", "reward looks flat to me")
    assert (cancel["rule"], cancel["reason"]) == (
        "api:nightly-script",
        "cancel requested through the API",
    )
    cancelled, paused = await audit_of(served, "ftjob-sim", "action")
    assert (paused["actor"], paused["firing_id"]) == ("api:alice", pause["firing_id"])
    assert (cancelled["actor"], cancelled["firing_id"]) == (
        "api:nightly-script",
        cancel["firing_id"],
    )
    status, body = await served.post("/v1/jobs/ftjob-sim/resume", json={"actor": ""}, auth=True)
    assert (status, body["error"]["details"][0]["loc"]) == (422, "actor"), body
