"""The `/_sim` controls: raw events, step bursts, forced statuses, new jobs, visibility."""

from __future__ import annotations

import openai
import pytest

from simulator.presets import DEMO_PLATEAU, DEMO_SUCCEEDS, default_scenario
from tests.simulator.conftest import StartSim

EVENTS = f"/v1/fine_tuning/jobs/{DEMO_PLATEAU}/events"


async def test_raw_events_reach_the_api_exactly_as_injected(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    odd = [
        {"message": "no id"},
        {"id": "e-1", "created_at": "yesterday", "data": None},
        {"id": "e-2", "type": "metrics", "data": {"step": "NaN"}, "message": "x" * 50_000},
    ]
    status, answer = await sim.control("POST", f"/_sim/jobs/{DEMO_PLATEAU}/events", odd)
    assert status == 200 and answer == {"ids": [None, "e-1", "e-2"], "count": 3}
    status, page = await sim.get(EVENTS, limit="3")
    assert page["data"] == odd[::-1]
    body = {"events": [{"type": "metrics", "data": {"step": 99}}], "complete": True}
    status, answer = await sim.control("POST", f"/_sim/jobs/{DEMO_PLATEAU}/events", body)
    status, page = await sim.get(EVENTS, limit="1")
    filled = page["data"][0]
    assert filled["id"] == answer["ids"][0] and filled["object"] == "fine_tuning.job.event"
    assert filled["data"] == {"step": 99} and isinstance(filled["created_at"], int)


async def test_a_burst_of_250_steps_between_two_polls_pages_out_whole(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(default_scenario())
    spec = {
        "id": "ftjob-long",
        "method": "reinforcement",
        "total_steps": 400,
        "eval_interval": 1000,
        "start_after": 0,
    }
    status, created = await sim.control("POST", "/_sim/jobs", spec)
    assert status == 201 and created["status"] == "running"
    before = await sim.client.fine_tuning.jobs.list_events("ftjob-long", limit=1)
    status, answer = await sim.control("POST", "/_sim/jobs/ftjob-long/advance", {"steps": 250})
    assert answer["new_events"] == 250 and answer["job"]["status"] == "running"
    new = []
    async for event in sim.client.fine_tuning.jobs.list_events("ftjob-long", limit=100):
        if event.id == before.data[0].id:
            break
        new.append(event)
    assert [e.data["step"] for e in reversed(new)] == list(range(1, 251))  # type: ignore[index]


async def test_forced_statuses_show_through_the_sdk(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    sim.clock.advance(3.0)
    status, job = await sim.control(
        "POST", f"/_sim/jobs/{DEMO_PLATEAU}/status", {"status": "pausing"}
    )
    assert status == 200 and job["status"] == "pausing"
    assert str((await sim.client.fine_tuning.jobs.retrieve(DEMO_PLATEAU)).status) == "pausing"
    with pytest.raises(openai.BadRequestError):
        await sim.client.fine_tuning.jobs.pause(DEMO_PLATEAU)
    await sim.control("POST", f"/_sim/jobs/{DEMO_PLATEAU}/status", {"status": "made_up"})
    assert str((await sim.client.fine_tuning.jobs.retrieve(DEMO_PLATEAU)).status) == "made_up"


async def test_added_jobs_are_listed_first_and_bad_specs_name_the_field(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(default_scenario())
    status, job = await sim.control("POST", "/_sim/jobs", {"metadata": {"team": "new"}})
    assert status == 201 and job["id"].startswith("ftjob-")
    first = await sim.client.fine_tuning.jobs.list(limit=1)
    assert first.data[0].id == job["id"]
    status, error = await sim.control(
        "POST", "/_sim/jobs", {"metrics": {"train_loss": {"kind": "wobbly"}}}
    )
    assert status == 400 and error["error"]["message"].startswith("metrics.train_loss.kind:")
    status, error = await sim.control("POST", "/_sim/jobs", {"id": DEMO_PLATEAU})
    assert status == 409


async def test_visibility_times_and_summary(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    sim.clock.advance(4.0)
    status, rows = await sim.control("GET", f"/_sim/jobs/{DEMO_SUCCEEDS}/visible")
    steps = [r for r in rows["data"] if r["type"] == "metrics"]
    assert [r["step"] for r in steps] == [1, 2, 3, 4, 5, 6]
    start = sim.clock.wall_start
    assert [r["visible_at"] for r in steps] == [start + 1.0 + 0.5 * k for k in range(1, 7)]
    status, one = await sim.control("GET", f"/_sim/events/{steps[0]['id']}/visible")
    assert one == {"event_id": steps[0]["id"], "job_id": DEMO_SUCCEEDS, "visible_at": start + 1.5}
    status, _ = await sim.control("GET", "/_sim/events/ftevent-nope/visible")
    assert status == 404
    status, summary = await sim.control("GET", "/_sim/jobs")
    assert not summary["all_terminal"] and len(summary["data"]) == 4
    sim.clock.advance(60.0)
    status, summary = await sim.control("GET", "/_sim/jobs")
    assert summary["all_terminal"]


async def test_faults_put_replaces_and_patch_merges(start_sim: StartSim) -> None:
    sim = await start_sim(default_scenario())
    await sim.control("PUT", "/_sim/faults", {"rate_429": 0.2, "latency_ms": 5})
    status, faults = await sim.control("PATCH", "/_sim/faults", {"truncate_rate": 0.1})
    assert (faults["rate_429"], faults["latency_ms"], faults["truncate_rate"]) == (0.2, 5, 0.1)
    status, faults = await sim.control("PUT", "/_sim/faults", {"truncate_rate": 0.3})
    assert (faults["rate_429"], faults["truncate_rate"]) == (0.0, 0.3)
    status, error = await sim.control("PUT", "/_sim/faults", {"rate_429": 2})
    assert status == 400 and error["error"]["message"].startswith("rate_429:")
