"""Actions against the simulator: once per firing, reconciled with the job's real status."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.action import ActionName, ActionTask
from service.models.firing import Firing, JobFacts
from service.providers.openai import OpenAICompatible
from service.providers.registry import Providers
from service.settings import Settings
from service.store import keys
from service.store.decisions import DecisionStore
from service.store.effects import Effects
from service.store.scripts import Scripts
from service.upstream.client import UpstreamClient
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.support import recorded_actions, served
from workers.actions.executor import ActionExecutor

JOB = "ftjob-act"


@pytest.fixture
async def sim() -> AsyncIterator[tuple[Platform, ManualClock, str]]:
    clock = ManualClock()
    job = JobSpec(
        id=JOB,
        method="reinforcement",
        step_period=1.0,
        start_after=0.0,
        total_steps=50,
        eval_interval=2,
    )
    platform = Platform(Scenario(jobs=[job]), now=clock.now, wall=clock.wall)
    async with served(create_simulator(platform)) as url:
        clock.advance(6)  # running, a few steps and checkpoints in
        yield platform, clock, url


@pytest.fixture
async def executor(
    sim: tuple[Platform, ManualClock, str], settings: Settings, redis: aioredis.Redis
) -> AsyncIterator[ActionExecutor]:
    settings = settings.model_copy(update={"openai_base_url": f"{sim[2]}/v1"})
    async with aiohttp.ClientSession() as session:
        client = UpstreamClient(session, settings, Metrics())
        providers = Providers([OpenAICompatible("openai", client)])
        yield ActionExecutor(
            providers,
            Effects(redis, Scripts(redis)),
            Metrics(),
            clock=lambda: 2000.0,
            decisions=DecisionStore(redis),
        )


def task(
    action: ActionName = "pause", firing_id: str = "fir_1", source: str = "openai"
) -> ActionTask:
    firing = Firing(
        firing_id=firing_id,
        rule="r",
        kind="plateau",
        job=JobFacts(id=JOB, provider=source),
        reason="flat",
        best_step=4,
        fired_at=1000.0,
        event_created_at=1990,
    )
    return ActionTask(action=action, firing=firing)


def calls(platform: Platform) -> list[str]:
    return [a.action for a in platform.actions if a.outcome == "ok"]


async def test_an_action_runs_once_per_firing(
    executor: ActionExecutor, sim: tuple[Platform, ManualClock, str], redis: aioredis.Redis
) -> None:
    first = await executor.execute(task())
    again = await executor.execute(task())
    assert (first.outcome, again.outcome) == ("ok", "already")
    assert calls(sim[0]) == ["pause"]
    # One record, of the action alone: the firing (recorded when it fired) is named by id.
    (record,) = await recorded_actions(redis)
    assert (record.firing_id, record.action, record.outcome) == (
        task().firing.firing_id,
        "pause",
        "ok",
    )
    assert (record.actor, record.rule, record.job_key) == (
        "ftwatch",
        task().firing.rule,
        "openai:" + task().firing.job.id,
    )
    assert record.checkpoint is not None and "step-4" in record.checkpoint


async def test_a_crash_after_claiming_reconciles_instead_of_calling_twice(
    executor: ActionExecutor, sim: tuple[Platform, ManualClock, str], redis: aioredis.Redis
) -> None:
    platform = sim[0]
    platform.pause(JOB)  # the call went through, then we crashed
    await redis.set(keys.effect("fir_1:pause", task().firing.job.key), "started")
    result = await executor.execute(task())
    assert result.outcome == "already"
    assert calls(platform) == ["pause"]  # only the one made before the crash


async def test_a_refused_action_is_judged_against_the_job(
    executor: ActionExecutor, sim: tuple[Platform, ManualClock, str]
) -> None:
    platform = sim[0]
    platform.pause(JOB)  # someone paused it by hand
    assert (await executor.execute(task("pause", "fir_2"))).outcome == "already"
    platform.cancel(JOB)
    skipped = await executor.execute(task("resume", "fir_3"))
    assert (skipped.outcome, skipped.detail) == ("skipped", "job already cancelled")


async def test_an_ingested_job_gets_a_decision_not_a_call(
    executor: ActionExecutor, sim: tuple[Platform, ManualClock, str], redis: aioredis.Redis
) -> None:
    result = await executor.execute(task(source="ingest"))
    assert result.outcome == "queued"
    assert calls(sim[0]) == []
    [decision] = await DecisionStore(redis).pending(f"ingest:{JOB}")
    assert (decision.action, decision.rule, decision.best_step) == ("pause", "r", 4)
    assert decision.id in result.detail
    # Redelivered after a crash before it was marked done: the same decision, not a second.
    await redis.delete(
        keys.effect(task(source="ingest").effect_key, task(source="ingest").firing.job.key)
    )
    await executor.execute(task(source="ingest"))
    assert [d.id for d in await DecisionStore(redis).pending(f"ingest:{JOB}")] == [decision.id]


async def test_an_ingested_job_cannot_be_resumed_by_ftwatch(executor: ActionExecutor) -> None:
    result = await executor.execute(task("resume", source="ingest"))
    assert result.outcome == "unsupported"
    assert "restart the training from its checkpoint" in result.detail


async def delayed_resumes(redis: aioredis.Redis) -> list[tuple[str, float]]:
    rows: Any = await redis.zrange(keys.DELAYED, 0, -1, withscores=True)
    return [(ActionTask.model_validate_json(raw).action, score) for raw, score in rows]


async def test_a_pause_schedules_its_rule_resume_only_once_it_took_effect(
    executor: ActionExecutor, redis: aioredis.Redis
) -> None:
    # A pause delayed by upstream retries used to lose the race against its resume,
    # scheduled from the firing: the resume found the job running ("already"), and the
    # pause that followed left the job paused for good.
    pause = task().model_copy(update={"resume_after": 60.0})
    assert await delayed_resumes(redis) == []
    assert (await executor.execute(pause)).outcome == "ok"
    assert await delayed_resumes(redis) == [("resume", (2000.0 + 60) * 1000)]
    assert (await executor.execute(pause)).outcome == "already"  # redelivered
    assert await delayed_resumes(redis) == [("resume", (2000.0 + 60) * 1000)]


async def test_a_pause_that_did_not_hold_schedules_no_resume(
    executor: ActionExecutor, sim: tuple[Platform, ManualClock, str], redis: aioredis.Redis
) -> None:
    sim[0].cancel(JOB)
    pause = task(firing_id="fir_4").model_copy(update={"resume_after": 60.0})
    assert (await executor.execute(pause)).outcome == "skipped"
    assert await delayed_resumes(redis) == []


async def test_a_pause_retried_after_its_resume_ran_does_not_pause_again(
    executor: ActionExecutor, sim: tuple[Platform, ManualClock, str], redis: aioredis.Redis
) -> None:
    # The worker paused the job and scheduled the resume, then died before recording the
    # pause. The resume ran; the pause, reclaimed later, must not pause the job again.
    platform = sim[0]
    pause = task(firing_id="fir_5").model_copy(update={"resume_after": 0.0})
    assert (
        await Effects(redis, Scripts(redis)).claim(pause.effect_key, f"openai:{JOB}")
    ).previous is None
    platform.pause(JOB)
    resume = pause.model_copy(update={"action": "resume", "resume_after": None})
    assert (await executor.execute(resume)).outcome == "ok"
    retried = await executor.execute(pause)
    assert retried.outcome == "skipped" and "later action" in retried.detail
    assert calls(platform) == ["pause", "resume"]
    assert await delayed_resumes(redis) == []  # and no second resume either


async def test_a_retried_action_with_no_later_one_reconciles_as_before(
    executor: ActionExecutor, sim: tuple[Platform, ManualClock, str], redis: aioredis.Redis
) -> None:
    effects = Effects(redis, Scripts(redis))
    await effects.claim("fir_6:pause", JOB)  # claimed, then the worker died before calling
    assert (await executor.execute(task(firing_id="fir_6"))).outcome == "ok"
    assert calls(sim[0]) == ["pause"]
