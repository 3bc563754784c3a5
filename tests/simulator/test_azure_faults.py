"""Faults and controls behave the same on both Azure flavors, errors in Azure's envelopes."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import openai
import pytest

from tests.simulator.azure import (
    CLASSIC_JOBS,
    JOBS,
    KEY,
    V1_JOBS,
    call,
    classic_client,
    fleet,
    sdk_error,
    v1_client,
)
from tests.simulator.conftest import Sim, StartSim

Client = Callable[[Sim], openai.OpenAI]
SURFACES = [
    pytest.param("azure", classic_client, CLASSIC_JOBS, id="azure"),
    pytest.param("azure-v1", v1_client, V1_JOBS, id="azure-v1"),
]


@pytest.mark.parametrize(("flavor", "client_for", "jobs_path"), SURFACES)
async def test_429_is_too_many_requests_with_retry_after(
    start_sim: StartSim, flavor: str, client_for: Client, jobs_path: str
) -> None:
    sim = await start_sim(fleet(), flavor=flavor, api_key=KEY)
    await sim.control("PUT", "/_sim/faults", {"rate_429": 1.0, "retry_after_s": 3})
    with client_for(sim) as client:
        limited = await sdk_error(client.fine_tuning.jobs.retrieve, JOBS[0])
    assert isinstance(limited, openai.RateLimitError) and limited.code == "tooManyRequests"
    assert limited.response.headers["retry-after"] == "3"
    assert limited.response.headers["apim-request-id"]


@pytest.mark.parametrize(("flavor", "client_for", "jobs_path"), SURFACES)
async def test_5xx_truncation_and_latency(
    start_sim: StartSim, flavor: str, client_for: Client, jobs_path: str
) -> None:
    sim = await start_sim(fleet(), flavor=flavor, api_key=KEY)
    await sim.control("PUT", "/_sim/faults", {"error_rate_5xx": 1.0, "latency_ms": 100})
    with client_for(sim) as client:
        began = time.monotonic()
        failed = await sdk_error(client.fine_tuning.jobs.list)
        assert time.monotonic() - began >= 0.1
        assert isinstance(failed, openai.InternalServerError)
        assert failed.code in {"internalFailure", "serviceUnavailable"}
        await sim.control("PUT", "/_sim/faults", {"truncate_rate": 1.0})
        with pytest.raises(json.JSONDecodeError):
            await call(client.fine_tuning.jobs.retrieve, JOBS[0])
    _status, stats = await sim.control("GET", "/_sim/stats")
    assert stats["by_endpoint"][f"GET {jobs_path}"] == 1
    assert stats["faults"]["5xx"] == 1 and stats["faults"]["truncated"] == 1


@pytest.mark.parametrize(("flavor", "client_for", "jobs_path"), SURFACES)
async def test_controls_keep_their_paths_and_drive_the_jobs(
    start_sim: StartSim, flavor: str, client_for: Client, jobs_path: str
) -> None:
    sim = await start_sim(fleet(), flavor=flavor, api_key=KEY)
    status, advanced = await sim.control("POST", f"/_sim/jobs/{JOBS[0]}/advance", {"steps": 3})
    assert status == 200 and advanced["job"]["status"] == "running"
    await sim.control("POST", f"/_sim/jobs/{JOBS[1]}/status", {"status": "pausing"})
    with client_for(sim) as client:
        assert str((await call(client.fine_tuning.jobs.retrieve, JOBS[1])).status) == "pausing"
        pages = client.fine_tuning.jobs.checkpoints
        steps = await call(lambda: [c.step_number for c in pages.list(JOBS[0])])
    assert steps == [2]
