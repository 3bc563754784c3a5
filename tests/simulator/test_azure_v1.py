"""The `azure-v1` flavor, judged by the plain `openai.OpenAI` client on `/openai/v1/`."""

from __future__ import annotations

import openai
from openai.types.fine_tuning import FineTuningJob

from service.upstream.models import Job
from tests.simulator.azure import (
    JOBS,
    KEY,
    PREVIEW,
    V1_JOBS,
    assert_uuid,
    call,
    fleet,
    raw,
    sdk_error,
    v1_client,
)
from tests.simulator.conftest import StartSim

V1_ERROR_KEYS = {"code", "message", "param", "type", "inner_error"}
BEARER = {"Authorization": f"Bearer {KEY}"}


async def test_the_sdk_lists_reads_and_acts_on_the_v1_surface(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure-v1", api_key=KEY)
    with v1_client(sim) as client:
        jobs = client.fine_tuning.jobs
        listed = await call(lambda: [(j.id, j.status) for j in jobs.list(limit=2)])
        assert listed == [(job_id, "validating_files") for job_id in JOBS[::-1]]
        sim.clock.advance(12.0)
        job = await call(jobs.retrieve, JOBS[0])
        assert (job.status, job.organization_id) == ("running", "")
        events = await call(lambda: [e.id for e in jobs.list_events(JOBS[0], limit=4)])
        assert events == [e["id"] for e in sim.platform.events(JOBS[0])] and len(events) > 12
        steps = await call(lambda: [c.step_number for c in jobs.checkpoints.list(JOBS[0], limit=2)])
        assert steps == [10, 8, 6, 4, 2]
        assert str((await call(jobs.pause, JOBS[0])).status) == "paused"
        assert (await call(jobs.resume, JOBS[0])).status == "queued"
        sim.clock.advance(1.0)
        assert (await call(jobs.retrieve, JOBS[0])).status == "running"
        assert (await call(jobs.cancel, JOBS[0])).status == "cancelled"


async def test_v1_json_passes_the_sdks_strict_model_and_ftwatchs(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure-v1", api_key=KEY)
    sim.clock.advance(30.0)
    job = await raw(sim, "GET", f"{V1_JOBS}/{JOBS[0]}", BEARER)
    assert FineTuningJob.model_validate(job.body).status == "succeeded"
    assert Job.model_validate(job.body).fine_tuned_model
    assert_uuid(job.headers["apim-request-id"])
    checkpoints = await raw(sim, "GET", f"{V1_JOBS}/{JOBS[0]}/checkpoints", BEARER, limit="2")
    assert checkpoints.body["first_id"] == checkpoints.body["data"][0]["id"]


async def test_azure_openai_with_api_version_preview_reaches_v1(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure-v1", api_key=KEY)
    client = openai.AzureOpenAI(
        base_url=sim.url + "/openai/v1/", api_key=KEY, api_version="preview", max_retries=0
    )
    with client:
        assert (await call(client.fine_tuning.jobs.retrieve, JOBS[0])).id == JOBS[0]
    answer = await raw(sim, "GET", V1_JOBS, {"api-key": KEY}, **{"api-version": "v1"})
    assert answer.status == 200


async def test_a_dated_api_version_is_refused_on_v1(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure-v1", api_key=KEY)
    client = openai.AzureOpenAI(
        base_url=sim.url + "/openai/v1/", api_key=KEY, api_version=PREVIEW, max_retries=0
    )
    with client:
        refused = await sdk_error(client.fine_tuning.jobs.list)
    assert isinstance(refused, openai.BadRequestError) and refused.code == "BadRequest"
    answer = await raw(sim, "GET", V1_JOBS, BEARER, **{"api-version": PREVIEW})
    assert answer.status == 400 and set(answer.body["error"]) == V1_ERROR_KEYS
    assert answer.body["error"]["type"] == "error" and answer.body["error"]["inner_error"] == {}


async def test_a_wrong_or_missing_key_is_401(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure-v1", api_key=KEY)
    with v1_client(sim, api_key="wrong") as client:
        wrong = await sdk_error(client.fine_tuning.jobs.list)
    assert isinstance(wrong, openai.AuthenticationError) and wrong.code == "401"
    missing = await raw(sim, "GET", V1_JOBS, {"Authorization": "Basic abc"})
    assert missing.status == 401 and set(missing.body["error"]) == V1_ERROR_KEYS
    assert "missing subscription key" in missing.body["error"]["message"]


async def test_pausing_a_job_that_is_not_running_is_400(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure-v1", api_key=KEY)
    with v1_client(sim) as client:
        refused = await sdk_error(client.fine_tuning.jobs.pause, JOBS[0])  # validating_files
        assert isinstance(refused, openai.BadRequestError)
        assert refused.code == "unexpectedEntityState"
        unknown = await sdk_error(client.fine_tuning.jobs.list_events, "ftjob-missing")
        assert isinstance(unknown, openai.NotFoundError) and unknown.code == "notFound"
    answer = await raw(sim, "POST", f"{V1_JOBS}/{JOBS[0]}/resume", BEARER)
    assert answer.status == 400 and set(answer.body["error"]) == V1_ERROR_KEYS


async def test_v1_keeps_openais_warn_and_names_unknown_paths_as_azure_does(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(fleet(), flavor="azure-v1", api_key=KEY)
    body = {"events": [{"level": "warn", "message": "slow"}], "complete": True}
    await sim.control("POST", f"/_sim/jobs/{JOBS[0]}/events", body)
    with v1_client(sim) as client:
        page = await call(client.fine_tuning.jobs.list_events, JOBS[0], limit=1)
    assert page.data[0].level == "warn"
    answer = await raw(sim, "GET", f"{V1_JOBS}/{JOBS[0]}/nope", BEARER)
    assert answer.status == 404 and answer.body["error"]["code"] == "404"
