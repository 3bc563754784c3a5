"""The `/v1` API through the official openai SDK, its JSON checked against the OpenAPI spec."""

from __future__ import annotations

import openai
import pytest
from openai.types.fine_tuning import FineTuningJob
from openai.types.fine_tuning.jobs import FineTuningJobCheckpoint

from simulator.presets import DEMO_DIVERGES, DEMO_GRADER_ERRORS, DEMO_PLATEAU, default_scenario
from simulator.scenario import JobSpec, Scenario
from tests.simulator.conftest import StartSim
from tests.simulator.schemas import validate


def fleet(n: int) -> Scenario:
    return Scenario(jobs=[JobSpec(metadata={"team": "ab"[i % 2]}) for i in range(n)])


async def test_jobs_auto_page_newest_first_and_filter_by_metadata(start_sim: StartSim) -> None:
    sim = await start_sim(fleet(7))
    ids = [job.id async for job in sim.client.fine_tuning.jobs.list(limit=2)]
    assert ids == sim.platform.job_ids()[::-1]
    team_a = [job.id async for job in sim.client.fine_tuning.jobs.list(metadata={"team": "a"})]
    assert team_a == ids[::-1][0::2][::-1]
    status, page = await sim.get("/v1/fine_tuning/jobs", limit="3")
    assert status == 200 and page["has_more"] is True and len(page["data"]) == 3
    validate(page, "ListPaginatedFineTuningJobsResponse")
    status, none = await sim.get("/v1/fine_tuning/jobs", metadata="null")
    assert status == 200 and none["data"] == []  # every job here has metadata


async def test_retrieve_parses_with_the_sdks_strict_models(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    sim.clock.advance(30.0)
    for job_id in sim.platform.job_ids():
        job = await sim.client.fine_tuning.jobs.retrieve(job_id)
        assert job.id == job_id and job.status in {"succeeded", "failed"}
        _status, raw = await sim.get(f"/v1/fine_tuning/jobs/{job_id}")
        validate(raw, "FineTuningJob")
        assert FineTuningJob.model_validate(raw).method is not None
    failed = await sim.client.fine_tuning.jobs.retrieve(DEMO_DIVERGES)
    assert failed.error is not None and failed.error.code == "training_diverged"


async def test_event_pages_yield_every_event_once_newest_first(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    sim.clock.advance(12.0)
    seen = [
        event.id
        async for event in sim.client.fine_tuning.jobs.list_events(DEMO_GRADER_ERRORS, limit=7)
    ]
    assert seen == [event["id"] for event in sim.platform.events(DEMO_GRADER_ERRORS)]
    assert len(seen) == len(set(seen)) > 20
    _status, page = await sim.get(f"/v1/fine_tuning/jobs/{DEMO_GRADER_ERRORS}/events", limit="100")
    validate(page, "ListFineTuningJobEventsResponse")
    metric = next(e for e in page["data"] if e["type"] == "metrics")
    assert set(metric["data"]) >= {"step", "total_steps", "scores", "errors"}


async def test_older_pages_stay_stable_while_new_events_arrive(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    sim.clock.advance(6.0)
    first = await sim.client.fine_tuning.jobs.list_events(DEMO_PLATEAU, limit=5)
    expected_older = [e["id"] for e in sim.platform.events(DEMO_PLATEAU)][5:10]
    sim.clock.advance(3.0)  # six more steps become visible between the two requests
    older = await sim.client.fine_tuning.jobs.list_events(
        DEMO_PLATEAU, limit=5, after=first.data[-1].id
    )
    assert [e.id for e in older.data] == expected_older
    newest = await sim.client.fine_tuning.jobs.list_events(DEMO_PLATEAU, limit=1)
    assert newest.data[0].id not in {e.id for e in first.data}


async def test_checkpoints_newest_first_with_first_and_last_ids(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    sim.clock.advance(30.0)
    page = await sim.client.fine_tuning.jobs.checkpoints.list(DEMO_PLATEAU, limit=3)
    steps = [c.step_number for c in page.data]
    assert steps == [40, 38, 36] and page.has_more
    _status, raw = await sim.get(f"/v1/fine_tuning/jobs/{DEMO_PLATEAU}/checkpoints", limit="3")
    validate(raw, "ListFineTuningJobCheckpointsResponse")
    assert raw["first_id"] == raw["data"][0]["id"] and raw["last_id"] == raw["data"][-1]["id"]
    for item in raw["data"]:
        FineTuningJobCheckpoint.model_validate(item)
    everything = [
        c.step_number
        async for c in sim.client.fine_tuning.jobs.checkpoints.list(DEMO_PLATEAU, limit=6)
    ]
    assert everything == list(range(40, 0, -2))


async def test_pause_resume_cancel_and_their_preconditions(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    jobs = sim.client.fine_tuning.jobs
    with pytest.raises(openai.BadRequestError) as not_running:
        await jobs.pause(DEMO_PLATEAU)  # still validating_files
    assert not_running.value.code == "invalid_job_state"
    sim.clock.advance(4.0)
    assert str((await jobs.pause(DEMO_PLATEAU)).status) == "paused"
    _status, raw = await sim.get(f"/v1/fine_tuning/jobs/{DEMO_PLATEAU}")
    validate(raw, "FineTuningJob", lenient_status=True)
    with pytest.raises(openai.BadRequestError):
        await jobs.pause(DEMO_PLATEAU)
    assert (await jobs.resume(DEMO_PLATEAU)).status == "queued"
    sim.clock.advance(0.5)
    assert (await jobs.retrieve(DEMO_PLATEAU)).status == "running"
    assert (await jobs.cancel(DEMO_PLATEAU)).status == "cancelled"
    with pytest.raises(openai.BadRequestError):
        await jobs.cancel(DEMO_PLATEAU)
    with pytest.raises(openai.BadRequestError):
        await jobs.resume(DEMO_PLATEAU)


async def test_unknown_job_is_404_with_the_error_envelope(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    with pytest.raises(openai.NotFoundError) as missing:
        await sim.client.fine_tuning.jobs.retrieve("ftjob-missing")
    with pytest.raises(openai.NotFoundError):
        await sim.client.fine_tuning.jobs.pause("ftjob-missing")
    with pytest.raises(openai.NotFoundError):
        await sim.client.fine_tuning.jobs.list_events("ftjob-missing")
    assert missing.value.code == "fine_tuning_job_not_found"
    status, body = await sim.get("/v1/fine_tuning/jobs/ftjob-missing/checkpoints")
    assert status == 404
    validate(body, "ErrorResponse")


@pytest.mark.parametrize("limit", ["0", "101", "ten"])
async def test_bad_limit_is_400(start_sim: StartSim, limit: str) -> None:
    sim = await start_sim(default_scenario())
    status, body = await sim.get("/v1/fine_tuning/jobs", limit=limit)
    assert status == 400 and body["error"]["param"] == "limit"
    validate(body, "ErrorResponse")
    with pytest.raises(openai.BadRequestError):
        await sim.client.fine_tuning.jobs.list_events(DEMO_PLATEAU, limit=0)
