"""The `azure` flavor (classic surface), judged by `openai.AzureOpenAI` on a real server."""

from __future__ import annotations

import openai
import pytest

from service.upstream.models import Checkpoint, Job, JobEvent
from tests.simulator.azure import (
    CLASSIC_JOBS,
    GA,
    JOBS,
    KEY,
    PREVIEW,
    assert_uuid,
    call,
    classic_client,
    fleet,
    raw,
    sdk_error,
)
from tests.simulator.conftest import StartSim

API_KEY = {"api-key": KEY}
CLASSIC_ERROR_KEYS = {"code", "message"}


async def test_the_sdk_lists_reads_and_acts_on_the_classic_surface(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    with classic_client(sim) as client:
        jobs = client.fine_tuning.jobs
        listed = await call(lambda: [(j.id, j.status) for j in jobs.list(limit=2)])
        assert listed == [(job_id, "pending") for job_id in JOBS[::-1]]  # paged 2 at a time
        sim.clock.advance(12.0)
        job = await call(jobs.retrieve, JOBS[0])
        assert job.status == "running" and job.model_dump()["organization_id"] is None
        events = await call(lambda: [e.id for e in jobs.list_events(JOBS[0], limit=4)])
        assert events == [e["id"] for e in sim.platform.events(JOBS[0])] and len(events) > 12
        steps = await call(lambda: [c.step_number for c in jobs.checkpoints.list(JOBS[0], limit=2)])
        assert steps == [10, 8, 6, 4, 2]
        assert str((await call(jobs.pause, JOBS[0])).status) == "paused"
        assert str((await call(jobs.resume, JOBS[0])).status) == "pending"  # OpenAI's `queued`
        sim.clock.advance(1.0)
        assert (await call(jobs.retrieve, JOBS[0])).status == "running"
        assert (await call(jobs.cancel, JOBS[0])).status == "cancelled"


async def test_classic_json_is_what_ftwatch_reads(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    sim.clock.advance(12.0)
    query = {"api-version": PREVIEW}
    job = await raw(sim, "GET", f"{CLASSIC_JOBS}/{JOBS[0]}", API_KEY, **query)
    parsed = Job.model_validate(job.body)
    assert (parsed.id, parsed.status, job.body["organization_id"]) == (JOBS[0], "running", None)
    assert_uuid(job.headers["apim-request-id"])
    assert "x-request-id" not in job.headers
    events = await raw(sim, "GET", f"{CLASSIC_JOBS}/{JOBS[0]}/events", API_KEY, **query)
    metrics = [JobEvent.model_validate(e) for e in events.body["data"] if e["type"] == "metrics"]
    assert metrics[0].data is not None and metrics[0].data["step"] == 10
    checkpoints = await raw(sim, "GET", f"{CLASSIC_JOBS}/{JOBS[0]}/checkpoints", API_KEY, **query)
    assert set(checkpoints.body) == {"object", "data", "has_more"}  # no first_id/last_id
    assert Checkpoint.model_validate(checkpoints.body["data"][0]).step_number == 10


async def test_classic_events_say_warning_where_openai_says_warn(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    body = {"events": [{"level": "warn", "message": "grader slow"}], "complete": True}
    await sim.control("POST", f"/_sim/jobs/{JOBS[0]}/events", body)
    with classic_client(sim) as client:
        page = await call(client.fine_tuning.jobs.list_events, JOBS[0], limit=1)
    assert (page.data[0].message, page.data[0].level) == ("grader slow", "warning")


async def test_a_missing_api_version_is_azures_404(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    answer = await raw(sim, "GET", CLASSIC_JOBS, API_KEY)
    assert answer.status == 404
    assert answer.body == {"error": {"code": "404", "message": "Resource not found"}}
    # The plain client sends no api-version; `api-key` as a default header gets it past auth.
    bare = openai.OpenAI(
        base_url=sim.url + "/openai", api_key="unused", default_headers=API_KEY, max_retries=0
    )
    with bare:
        missing = await sdk_error(bare.fine_tuning.jobs.retrieve, JOBS[0])
    assert isinstance(missing, openai.NotFoundError) and missing.code == "404"


async def test_an_unknown_api_version_is_400(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    with classic_client(sim, api_version="v1") as client:
        refused = await sdk_error(client.fine_tuning.jobs.retrieve, JOBS[0])
    assert isinstance(refused, openai.BadRequestError) and refused.code == "BadRequest"


async def test_bearer_alone_is_refused_when_a_key_is_set(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    bearer = openai.OpenAI(
        base_url=sim.url + "/openai",
        api_key=KEY,
        default_query={"api-version": PREVIEW},
        max_retries=0,
    )
    with bearer:
        refused = await sdk_error(bearer.fine_tuning.jobs.list)
    assert isinstance(refused, openai.AuthenticationError) and refused.code == "401"
    assert "missing subscription key" in refused.message
    with classic_client(sim, api_key="wrong") as client:
        wrong = await sdk_error(client.fine_tuning.jobs.list)
    assert isinstance(wrong, openai.AuthenticationError) and wrong.code == "401"
    assert "invalid subscription key" in wrong.message
    answer = await raw(sim, "GET", CLASSIC_JOBS, {"Authorization": f"Bearer {KEY}"})
    assert answer.status == 401 and set(answer.body["error"]) == CLASSIC_ERROR_KEYS
    assert_uuid(answer.headers["apim-request-id"])


async def test_without_a_fixed_key_a_bearer_stands_for_an_entra_token(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(fleet(), flavor="azure")
    headers = {"Authorization": "Bearer entra-token"}
    answer = await raw(sim, "GET", CLASSIC_JOBS, headers, **{"api-version": PREVIEW})
    assert answer.status == 200 and len(answer.body["data"]) == 5
    assert (await raw(sim, "GET", CLASSIC_JOBS, {}, **{"api-version": PREVIEW})).status == 401


async def test_ga_has_no_pause_or_resume_but_cancels(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    sim.clock.advance(4.0)
    with classic_client(sim, api_version=GA) as client:
        jobs = client.fine_tuning.jobs
        for action in (jobs.pause, jobs.resume):
            missing = await sdk_error(action, JOBS[0])
            assert isinstance(missing, openai.NotFoundError) and missing.code == "404"
        assert (await call(jobs.retrieve, JOBS[0])).status == "running"
        assert (await call(jobs.cancel, JOBS[1])).status == "cancelled"
    _status, actions = await sim.control("GET", "/_sim/actions")
    assert [(a["job_id"], a["action"]) for a in actions["actions"]] == [(JOBS[1], "cancel")]


async def test_pausing_a_job_that_is_not_running_is_unexpected_entity_state(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    with classic_client(sim) as client:
        refused = await sdk_error(client.fine_tuning.jobs.pause, JOBS[0])  # still pending
        assert isinstance(refused, openai.BadRequestError)
        assert refused.code == "unexpectedEntityState"
        unknown = await sdk_error(client.fine_tuning.jobs.retrieve, "ftjob-missing")
        assert isinstance(unknown, openai.NotFoundError) and unknown.code == "notFound"
    path = f"{CLASSIC_JOBS}/{JOBS[0]}/pause"
    answer = await raw(sim, "POST", path, API_KEY, **{"api-version": PREVIEW})
    assert answer.status == 400 and set(answer.body["error"]) == CLASSIC_ERROR_KEYS


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
async def test_a_bad_limit_is_invalid_payload_targeting_limit(
    start_sim: StartSim, limit: str
) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    answer = await raw(sim, "GET", CLASSIC_JOBS, API_KEY, limit=limit, **{"api-version": PREVIEW})
    assert answer.status == 400
    assert answer.body["error"]["code"] == "invalidPayload"
    assert answer.body["error"]["target"] == "limit"


async def test_unknown_paths_under_openai_are_resource_not_found(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(), flavor="azure", api_key=KEY)
    path = "/openai/fine_tuning/nope"
    answer = await raw(sim, "GET", path, API_KEY, **{"api-version": PREVIEW})
    assert answer.status == 404 and answer.body["error"]["code"] == "404"
