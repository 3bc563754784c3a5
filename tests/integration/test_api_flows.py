"""Flows through the HTTP API end to end: ingested plateaus and OpenAI webhooks."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr
from standardwebhooks import Webhook

from service.app import create_app
from service.models.audit import ActionRecord
from service.models.firing import Firing
from service.settings import Settings
from service.store import keys
from tests.integration.conftest import ManualSim
from tests.support import eventually, recorded_actions, recorded_firings, served
from workers.rules.loading import parse_rules_text

TOKEN = "test-token"
SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
RULES = parse_rules_text("""
rules:
  - name: reward-plateau
    when: {plateau: {metric: valid_reward_mean, mode: max, patience: 3, min_delta: 0.01}}
    do: [pause, {notify: log}]
  - name: finished
    when: {status: [succeeded, failed, cancelled]}
    do: [{notify: log}]
""")


@pytest.fixture
async def api(settings: Settings, manual_sim: ManualSim) -> AsyncIterator[str]:
    app_settings = settings.model_copy(
        update={
            "openai_base_url": manual_sim.base_url,
            "poll_interval": 300.0,  # only a webhook can make a poll happen in time
            "api_token": SecretStr(TOKEN),
            "webhook_secret": SecretStr(SECRET),
        }
    )
    async with served(create_app(app_settings, role="all", rules=RULES)) as url:
        yield url


async def firings(redis: aioredis.Redis, rule: str) -> list[Firing]:
    return [r for r in await recorded_firings(redis) if r.rule == rule]


async def test_a_plateau_in_ingested_events_fires_and_is_recorded(
    api: str, redis: aioredis.Redis
) -> None:
    rewards = [0.2, 0.4, 0.5, 0.5, 0.505, 0.5, 0.49]
    events = [
        {
            "job_id": "trl-run-7",
            "event_id": f"step-{n}",
            "created_at": 1_700_000_000 + n,
            "type": "metrics",
            "method": "reinforcement",
            "status": "running",
            "data": {"step": n, "scores": {"valid_reward_mean": reward}},
        }
        for n, reward in enumerate(rewards, start=1)
    ]
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        for _ in range(2):  # the same batch twice: stored once
            async with http.post(
                f"{api}/v1/ingest/events", json={"events": events}, headers=headers
            ) as resp:
                assert resp.status < 300, await resp.text()

    async def paused() -> list[ActionRecord]:
        return [a for a in await recorded_actions(redis) if a.rule == "reward-plateau"]

    (record,) = await eventually(paused, message="the plateau fired and the pause was recorded")
    assert record.job_id == "trl-run-7"
    # No upstream to call: a decision waits for the trainer (tests/integration/test_decisions.py).
    assert record.outcome == "queued" and "decision dec_" in record.detail
    (fired,) = await firings(redis, "reward-plateau")
    assert record.firing_id == fired.firing_id


async def test_a_signed_completion_webhook_is_seen_without_waiting_for_a_poll(
    api: str, redis: aioredis.Redis, manual_sim: ManualSim
) -> None:
    job = "ftjob-poll-0"
    await eventually(lambda: _status(redis, job, "running"), message="first poll")
    manual_sim.platform.set_status(job, "succeeded")
    body = json.dumps(
        {
            "object": "event",
            "id": "evt_1",
            "type": "fine_tuning.job.succeeded",
            "created_at": int(time.time()),
            "data": {"id": job},
        }
    )
    now = datetime.now(tz=UTC)
    signature = Webhook(SECRET).sign("msg_1", now, body)
    signed = {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
        "content-type": "application/json",
    }
    async with aiohttp.ClientSession() as http:
        bad = {**signed, "webhook-signature": "v1,AAAA"}
        async with http.post(f"{api}/v1/webhooks/openai", data=body, headers=bad) as resp:
            assert resp.status in {400, 401}
        async with http.post(f"{api}/v1/webhooks/openai", data=body, headers=signed) as resp:
            assert resp.status < 300, await resp.text()
    finished = await eventually(
        lambda: firings(redis, "finished"),
        timeout=10,
        message="completion recorded long before the next poll",
    )
    assert finished[0].job.id == job and finished[0].type == "ftwatch.job.finished"


async def _status(redis: aioredis.Redis, job: str, status: str) -> bool:
    return await redis.hget(keys.job(f"openai:{job}"), "status") == status
