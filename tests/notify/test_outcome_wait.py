"""Notices wait briefly for their firing's pause: they name its outcome and the checkpoint.

The real executor pauses a simulator job and lists its checkpoints while the delivery
worker holds the firing's notices back; every format then carries what the audit log
records. Past the bound, the notice goes with what it knows.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.action import ActionTask
from service.models.firing import ActionResult, Firing, JobFacts
from service.providers.openai import OpenAICompatible
from service.providers.registry import Providers
from service.settings import Settings
from service.store.effects import Effects
from service.store.scripts import Scripts
from service.upstream.client import UpstreamClient
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.notify.conftest import Harness
from tests.notify.delivery_support import FAST, environ_for, receiver, rules_with
from tests.notify.samples import ROUTING_KEY
from tests.notify.vendors import PagerDuty, Slack, serving
from tests.notify.webhook_receiver import WebhookReceiver
from tests.support import eventually, recorded_actions, served
from workers.actions.executor import ActionExecutor

JOB = "ftjob-ckpt"
NOTIFY = ("std", "chat", "pd")


@pytest.fixture
async def executor(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[ActionExecutor]:
    clock = ManualClock()
    job = JobSpec(id=JOB, method="reinforcement", step_period=1.0, total_steps=50)
    platform = Platform(Scenario(jobs=[job]), now=clock.now, wall=clock.wall)
    async with served(create_simulator(platform)) as url, aiohttp.ClientSession() as session:
        clock.advance(8)  # running, with checkpoints
        settings = settings.model_copy(update={"openai_base_url": f"{url}/v1"})
        client = UpstreamClient(session, settings, Metrics())
        yield ActionExecutor(
            Providers([OpenAICompatible("openai", client)]),
            Effects(redis, Scripts(redis)),
            Metrics(),
        )


def planned_firing() -> Firing:
    """What the rule worker sends at firing time: the pause queued, no checkpoint yet."""
    actions = [ActionResult(action="pause", outcome="queued")]
    actions += [ActionResult(action=f"notify:{name}", outcome="queued") for name in NOTIFY]
    return Firing(
        firing_id="fir_ckpt",
        rule="reward-plateau",
        kind="plateau",
        job=JobFacts(id=JOB, method="reinforcement", status="running", step=6),
        reason="valid_reward_mean has not improved for 3 evaluations",
        best=0.61,
        best_step=4,
        actions=actions,
        fired_at=time.time(),
    )


async def _true(value: bool) -> bool:
    return value


async def _recorded_checkpoint(redis: aioredis.Redis) -> str | None:
    records = await recorded_actions(redis)
    return next((r.checkpoint for r in records if r.checkpoint), None)


async def test_every_format_names_the_pause_and_the_checkpoint_it_found(
    harness: Harness, hooks: WebhookReceiver, executor: ActionExecutor, redis: aioredis.Redis
) -> None:
    slack, pagerduty = Slack(), PagerDuty()
    async with serving(slack) as slack_url, serving(pagerduty) as pd_url:
        rules = rules_with(
            receiver("std", hooks.add("std")),
            {"name": "chat", "url": f"{slack_url}/hook", "format": "slack"},
            {"name": "pd", "url": pd_url, "format": "pagerduty", "secret_env": "PD_KEY"},
        )
        environ = {**environ_for(rules), "PD_KEY": ROUTING_KEY}
        harness.start(harness.worker(rules, environ=environ))
        firing = planned_firing()
        for name in NOTIFY:  # the rule worker commits notices and the pause together
            await harness.request(name, firing)
        await executor.execute(ActionTask(action="pause", firing=firing))
        checkpoint = await _recorded_checkpoint(redis)
        assert checkpoint  # the audit log names it
        await eventually(
            lambda: _true(
                len(hooks["std"].delivered) == 1
                and len(slack.accepted) == 1
                and len(pagerduty.accepted) == 1
            )
        )
    data = hooks["std"].delivered[0].body["data"]
    assert data["best"]["checkpoint"] == checkpoint
    assert data["actions"][0]["outcome"] == "ok"
    assert checkpoint in slack.accepted[0].body["text"]
    fields = [f["text"] for f in slack.accepted[0].body["blocks"][1]["fields"]]
    assert f"*Checkpoint*\n{checkpoint}" in fields
    assert any(f.startswith("*Actions*\npause ok") for f in fields)
    details = pagerduty.accepted[0].body["payload"]["custom_details"]
    assert details["checkpoint"] == checkpoint and details["actions"].startswith("pause ok")
    # One message each: the wait replaced any follow-up.
    assert len(hooks["std"].arrivals) == len(slack.received) == len(pagerduty.received) == 1


async def test_past_the_bound_a_notice_goes_with_what_it_knows(
    harness: Harness, hooks: WebhookReceiver
) -> None:
    rules = rules_with(receiver("std", hooks.add("std")))
    bound = 0.5
    harness.start(harness.worker(rules, config=replace(FAST, outcome_wait_seconds=bound)))
    asked = time.monotonic()
    await harness.request("std", planned_firing())  # its pause never reports back
    await eventually(lambda: _true(len(hooks["std"].delivered) == 1))
    [arrival] = hooks["std"].arrivals
    assert arrival.at - asked >= bound  # it waited for the pause ...
    data = arrival.body["data"]
    assert data["best"] == {"value": 0.61, "step": 4, "checkpoint": None}  # ... then went
    assert data["actions"][0]["outcome"] == "queued"
    assert data["reason"] == "valid_reward_mean has not improved for 3 evaluations"
