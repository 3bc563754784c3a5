"""The `together` flavor, judged by Together's official SDK with strict response validation."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator

import pytest
import together
from together.types import FinetuneEvent, FinetuneResponse
from together.types.fine_tuning_list_checkpoints_response import Data as CheckpointData

from simulator.faults import Faults
from simulator.presets import (
    TOGETHER_DPO_PLATEAU,
    TOGETHER_SFT_DIVERGES,
    TOGETHER_SFT_EARLY_STOP,
    together_scenario,
)
from simulator.scenario import ScenarioError, parse_scenario
from tests.simulator.conftest import Sim, StartSim

KEY = "together-test-key"


@pytest.fixture
async def sim(start_sim: StartSim) -> Sim:
    return await start_sim(together_scenario(step_period=1.0), flavor="together", api_key=KEY)


@pytest.fixture
async def client(sim: Sim) -> AsyncIterator[together.AsyncTogether]:
    sdk = together.AsyncTogether(
        api_key=KEY, base_url=sim.url, max_retries=0, _strict_response_validation=True
    )
    async with sdk:
        yield sdk


async def test_the_sdk_lists_and_reads_jobs_in_togethers_words(
    sim: Sim, client: together.AsyncTogether
) -> None:
    listed = await client.fine_tuning.list()
    assert [j.id for j in listed.data] == [
        TOGETHER_SFT_EARLY_STOP,
        TOGETHER_DPO_PLATEAU,
        TOGETHER_SFT_DIVERGES,
    ]
    assert {j.status for j in listed.data} == {"pending"}
    sim.clock.advance(40)
    job = await client.fine_tuning.retrieve(TOGETHER_DPO_PLATEAU)
    assert isinstance(job, FinetuneResponse) and job.status == "completed"
    assert job.training_method is not None and job.training_method.method == "dpo"
    assert (await client.fine_tuning.retrieve(TOGETHER_SFT_DIVERGES)).status == "error"


async def test_events_have_no_ids_no_losses_and_say_early_stopping(
    sim: Sim, client: together.AsyncTogether
) -> None:
    sim.clock.advance(40)
    events = (await client.fine_tuning.list_events(TOGETHER_SFT_EARLY_STOP)).data
    assert all(isinstance(e, FinetuneEvent) and "id" not in e.model_fields_set for e in events)
    types = [e.type for e in events]
    assert types[0] == "job_pending" and types[-2:] == ["early_stopped", "job_complete"]
    assert "training_start" in types and "checkpoint_save" in types
    stopped = events[-2]
    assert stopped.early_stopping_best_step and stopped.early_stopping_best_step <= 18
    job = await client.fine_tuning.retrieve(TOGETHER_SFT_EARLY_STOP)
    assert job.early_stopped is True
    assert job.early_stopping_best_step == stopped.early_stopping_best_step


async def test_losses_come_from_metrics_by_global_step_with_eval_rows_apart(
    sim: Sim, client: together.AsyncTogether
) -> None:
    sim.clock.advance(40)
    every = (await client.fine_tuning.list_metrics(TOGETHER_SFT_DIVERGES)).metrics or []
    train = [r for r in every if "train/loss" in r]
    evals = [r for r in every if "eval/loss" in r]
    assert [r["train/global_step"] for r in train] == list(range(1, 17))
    assert [r["train/global_step"] for r in evals] == [4, 8, 12, 16]
    assert math.isnan(train[-1]["train/loss"]) and not math.isnan(train[0]["train/loss"])
    some = await client.fine_tuning.list_metrics(
        TOGETHER_SFT_DIVERGES, global_step_from=8, global_step_to=12
    )
    assert {r["train/global_step"] for r in some.metrics or []} == {8, 9, 10, 11, 12}
    sampled = await client.fine_tuning.list_metrics(TOGETHER_SFT_DIVERGES, resolution=4)
    rows = sampled.metrics or []
    assert len([r for r in rows if "train/loss" in r]) == 4 and len(rows) == 8


async def test_checkpoints_are_intermediate_by_step_then_final(
    sim: Sim, client: together.AsyncTogether
) -> None:
    sim.clock.advance(40)
    checkpoints = (await client.fine_tuning.list_checkpoints(TOGETHER_SFT_EARLY_STOP)).data
    assert all(isinstance(c, CheckpointData) for c in checkpoints)
    assert checkpoints[0].checkpoint_type == "Final" and checkpoints[0].step == 18
    assert [c.step for c in checkpoints[1:]] == [15, 10, 5]


async def test_cancel_answers_cancel_requested_and_the_job_reads_cancelled(
    start_sim: StartSim,
) -> None:
    sim = await start_sim(together_scenario(step_period=1.0), flavor="together", api_key=KEY)
    sim.clock.advance(5)
    sdk = together.AsyncTogether(
        api_key=KEY, base_url=sim.url, max_retries=0, _strict_response_validation=True
    )
    async with sdk:
        answer = await sdk.fine_tuning.cancel(TOGETHER_DPO_PLATEAU)
        assert answer.status == "cancel_requested"
        assert (await sdk.fine_tuning.retrieve(TOGETHER_DPO_PLATEAU)).status == "cancelled"
        with pytest.raises(together.BadRequestError):
            await sdk.fine_tuning.cancel(TOGETHER_DPO_PLATEAU)
        with pytest.raises(together.NotFoundError):
            await sdk.fine_tuning.retrieve("ft-nope")
    assert [a.action for a in sim.platform.actions if a.outcome == "ok"] == ["cancel"]


async def test_pause_is_no_route_and_auth_is_bearer(sim: Sim) -> None:
    url = f"{sim.url}/v1/fine-tunes/{TOGETHER_DPO_PLATEAU}/pause"
    async with sim.http.post(url, headers={"Authorization": f"Bearer {KEY}"}) as resp:
        assert resp.status == 404 and "message" in (await resp.json())["error"]
    async with sim.http.get(f"{sim.url}/v1/fine-tunes") as resp:
        assert resp.status == 401


async def test_a_429_says_retry_after_and_the_rate_limit_headers(sim: Sim) -> None:
    faults = Faults(rate_429=1.0, retry_after_s=3)
    await sim.control("PUT", "/_sim/faults", faults.model_dump())
    sdk = together.AsyncTogether(api_key=KEY, base_url=sim.url, max_retries=0)
    async with sdk:
        with pytest.raises(together.RateLimitError) as caught:
            await sdk.fine_tuning.list()
    headers = caught.value.response.headers
    assert headers["retry-after"] == "3" and headers["x-ratelimit-reset"] == "3"
    assert (headers["x-ratelimit-remaining"], headers["x-ratelimit-limit"]) == ("0", "60")


def test_an_early_stop_needs_a_job_that_succeeds_within_its_steps() -> None:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario({"jobs": [{"id": "ft-x", "final_status": "failed", "early_stop_at": 3}]})
    assert "jobs[0].early_stop_at: needs final_status succeeded" in str(caught.value)
    with pytest.raises(ScenarioError):
        parse_scenario({"jobs": [{"id": "ft-x", "total_steps": 5, "early_stop_at": 9}]})
    job = parse_scenario({"jobs": [{"id": "ft-x", "total_steps": 9, "early_stop_at": 4}]}).jobs[0]
    assert job.stop_step == 4
