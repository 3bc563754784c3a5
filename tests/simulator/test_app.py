"""The app's middleware: auth, fault injection, request counting; and run_simulator."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import openai
import pytest

from simulator.app import run_simulator
from simulator.presets import DEMO_PLATEAU, DEMO_SUCCEEDS, default_scenario
from tests.simulator.conftest import Sim, StartSim
from tests.simulator.schemas import validate
from tests.support import eventually, free_port

JOBS = "/v1/fine_tuning/jobs"


async def raw_get(sim: Sim, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
    async with sim.http.get(sim.url + path, headers=headers) as resp:
        return resp.status, await resp.read()


@pytest.mark.parametrize("header", [None, "", "Bearer ", "Bearer    ", "Basic abc"])
async def test_missing_or_empty_bearer_key_is_401(start_sim: StartSim, header: str | None) -> None:
    sim = await start_sim(default_scenario())
    headers = {} if header is None else {"Authorization": header}
    status, body = await raw_get(sim, JOBS, headers)
    assert status == 401
    validate(json.loads(body), "ErrorResponse")


async def test_a_fixed_key_rejects_others(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario(), api_key="sk-right")
    with pytest.raises(openai.AuthenticationError) as wrong:
        await sim.client.fine_tuning.jobs.list()
    assert wrong.value.code == "invalid_api_key"
    status, _ = await raw_get(sim, JOBS, {"Authorization": "Bearer sk-right"})
    assert status == 200


async def test_unknown_paths_answer_openais_404_envelope(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    status, body = await raw_get(sim, "/v1/fine_tuning/nope", {"Authorization": "Bearer t"})
    assert status == 404
    assert json.loads(body)["error"]["message"] == "Invalid URL (GET /v1/fine_tuning/nope)"


async def test_429_carries_retry_after_and_quota_429_does_not(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    await sim.control("PUT", "/_sim/faults", {"rate_429": 1.0, "retry_after_s": 3})
    with pytest.raises(openai.RateLimitError) as limited:
        await sim.client.fine_tuning.jobs.retrieve(DEMO_PLATEAU)
    assert limited.value.code == "rate_limit_exceeded"
    assert limited.value.response.headers["retry-after"] == "3"
    await sim.control("PUT", "/_sim/faults", {"insufficient_quota": True})
    with pytest.raises(openai.RateLimitError) as quota:
        await sim.client.fine_tuning.jobs.retrieve(DEMO_PLATEAU)
    assert quota.value.type == "insufficient_quota"
    assert "retry-after" not in quota.value.response.headers


async def test_5xx_share_follows_the_setting(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    await sim.control("PUT", "/_sim/faults", {"error_rate_5xx": 0.5, "seed": 7})
    codes = [(await sim.get(JOBS))[0] for _ in range(200)]
    failures = [code for code in codes if code != 200]
    assert set(failures) <= {500, 502, 503} and 60 < len(failures) < 140
    _status, stats = await sim.control("GET", "/_sim/stats")
    assert stats["faults"]["5xx"] == len(failures)
    assert stats["by_endpoint"][f"GET {JOBS}"] == 200


async def test_truncated_bodies_are_200_but_not_json(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    await sim.control("PUT", "/_sim/faults", {"truncate_rate": 1.0})
    status, body = await raw_get(sim, JOBS, {"Authorization": "Bearer t"})
    assert status == 200 and body
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    with pytest.raises(json.JSONDecodeError):  # the SDK lets the decode error through
        await sim.client.fine_tuning.jobs.retrieve(DEMO_PLATEAU)


async def test_faulted_actions_are_recorded_and_not_applied(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    sim.clock.advance(3.0)
    await sim.control("PUT", "/_sim/faults", {"error_rate_5xx": 1.0})
    with pytest.raises(openai.InternalServerError):
        await sim.client.fine_tuning.jobs.pause(DEMO_PLATEAU)
    await sim.control("PUT", "/_sim/faults", {"truncate_rate": 1.0})
    with pytest.raises(json.JSONDecodeError):
        await sim.client.fine_tuning.jobs.pause(DEMO_SUCCEEDS)  # applied, answer cut short
    await sim.control("PUT", "/_sim/faults", {})
    assert (await sim.client.fine_tuning.jobs.retrieve(DEMO_PLATEAU)).status == "running"
    assert str((await sim.client.fine_tuning.jobs.retrieve(DEMO_SUCCEEDS)).status) == "paused"
    _status, actions = await sim.control("GET", "/_sim/actions")
    outcomes = [(a["job_id"], a["outcome"], a["status"]) for a in actions["actions"]]
    assert outcomes == [(DEMO_PLATEAU, "fault", None), (DEMO_SUCCEEDS, "ok", "paused")]
    assert actions["actions"][0]["http_status"] in {500, 502, 503}


async def test_latency_delays_api_answers_but_not_controls(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    await sim.control("PUT", "/_sim/faults", {"latency_ms": 150, "error_rate_5xx": 1.0})
    began = time.monotonic()
    status, _ = await sim.get(JOBS)
    assert status >= 500 and time.monotonic() - began >= 0.15
    began = time.monotonic()
    status, stats = await sim.control("GET", "/_sim/stats")  # no auth, never faulted
    assert status == 200 and time.monotonic() - began < 0.15
    assert stats["by_status"] == {str(status_5xx): 1 for status_5xx in stats["by_status"]}


async def test_every_api_answer_has_a_request_id(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    async with sim.http.get(sim.url + JOBS) as resp:
        assert resp.status == 401 and resp.headers["x-request-id"].startswith("req_")


async def test_run_simulator_serves_a_scenario_file_until_cancelled(tmp_path: Path) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_text("jobs:\n  - id: ftjob-file\n    method: dpo\n", encoding="utf-8")
    port = free_port()
    task = asyncio.create_task(run_simulator(port, str(path)))
    url = f"http://127.0.0.1:{port}/v1/fine_tuning/jobs/ftjob-file"
    async with aiohttp.ClientSession(headers={"Authorization": "Bearer k"}) as http:

        async def fetch() -> dict[str, Any] | None:
            try:
                async with http.get(url) as resp:
                    return dict(await resp.json()) if resp.status == 200 else None
            except aiohttp.ClientConnectionError:
                return None

        job = await eventually(fetch, timeout=5)
    assert job is not None
    assert job["method"] == {
        "type": "dpo",
        "dpo": {
            "hyperparameters": {
                "batch_size": "auto",
                "learning_rate_multiplier": "auto",
                "n_epochs": "auto",
                "beta": "auto",
            }
        },
    }
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
