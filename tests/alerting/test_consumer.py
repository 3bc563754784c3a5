"""Alertmanager acting on jobs through ftwatch: its webhook, as the real Alertmanager sends it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis
from pydantic import SecretStr

from service.app import create_app
from service.settings import Settings
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.alerting.conftest import Alertmanager, config
from tests.api.conftest import seed_job
from tests.support import eventually, recorded_actions, recorded_firings, served, xrange
from workers.notify.payloads.encoding import iso_time

JOB = "ftjob-loss"
TOKEN = "alerting-test-token"
HOOK = "/v1/webhooks/alertmanager"


@pytest.fixture
async def sim() -> AsyncIterator[tuple[Platform, str]]:
    """The simulator with one running job."""
    clock = ManualClock()
    spec = JobSpec(id=JOB, start_after=0, step_period=100, total_steps=50)
    platform = Platform(Scenario(jobs=[spec]), now=clock.now, wall=clock.wall)
    async with served(create_simulator(platform)) as url:
        yield platform, f"{url}/v1"


@contextlib.asynccontextmanager
async def ftwatch_api(
    settings: Settings, base_url: str, redis: aioredis.Redis
) -> AsyncIterator[str]:
    """ftwatch's API (with the token) on the simulator, knowing the job."""
    app_settings = settings.model_copy(
        update={
            "openai_base_url": base_url,
            "openai_api_key": SecretStr("sk-test"),
            "api_token": SecretStr(TOKEN),
        }
    )
    async with served(create_app(app_settings, role="api")) as url:
        await seed_job(redis, JOB, step=3)
        yield url


def loss_alert() -> dict[str, Any]:
    """What a Prometheus rule like deploy/prometheus/ftwatch-actions.yaml posts."""
    return {
        "labels": {
            "alertname": "FtwatchLossDiverging",
            "ftwatch_action": "pause",
            "job_id": JOB,
            "provider": "openai",
            "severity": "warning",
        },
        "annotations": {"summary": f"train_loss of {JOB} above 5"},
        "endsAt": iso_time(time.time() + 300),
    }


def pauses(platform: Platform) -> list[str]:
    return [a.outcome for a in platform.actions if a.job_id == JOB and a.action == "pause"]


async def test_an_alert_labelled_pause_pauses_the_job_once_although_resent(
    settings: Settings,
    redis: aioredis.Redis,
    sim: tuple[Platform, str],
    start_alertmanager: Callable[..., Any],
) -> None:
    platform, base_url = sim
    async with ftwatch_api(settings, base_url, redis) as url:
        am: Alertmanager = await start_alertmanager(config(url + HOOK, TOKEN))
        await am.post([loss_alert()])

        async def repeated() -> bool:
            # repeat_interval 1s: Alertmanager notifies ftwatch of the same alert again.
            sent = await am.counter("alertmanager_notifications_total", integration="webhook")
            return sent >= 3

        await eventually(repeated, timeout=20, interval=0.1, message="no repeated notification")
        await am.post([loss_alert()])  # Prometheus re-sends it too
        assert await am.counter("alertmanager_notifications_failed_total") == 0
        assert pauses(platform) == ["ok"]
        assert platform.get_job(JOB)["status"] in {"pausing", "paused"}
        # The alert is one firing and one pause, however often it was sent.
        [fired] = await recorded_firings(redis)
        [paused] = await recorded_actions(redis)
        assert fired.rule == "alertmanager:FtwatchLossDiverging"
        assert (paused.firing_id, paused.action, paused.outcome) == (fired.firing_id, "pause", "ok")


async def test_without_the_token_alertmanager_is_refused_and_nothing_happens(
    settings: Settings,
    redis: aioredis.Redis,
    sim: tuple[Platform, str],
    start_alertmanager: Callable[..., Any],
) -> None:
    platform, base_url = sim
    async with ftwatch_api(settings, base_url, redis) as url:
        am: Alertmanager = await start_alertmanager(config(url + HOOK, token=None))
        await am.post([loss_alert()])

        async def refused() -> bool:
            failed = await am.counter(
                "alertmanager_notifications_failed_total", integration="webhook"
            )
            return failed >= 1

        await eventually(refused, timeout=20, interval=0.1, message="not refused")
        assert "401" in am.log(), am.log()[-2000:]
        assert pauses(platform) == []
        assert platform.get_job(JOB)["status"] == "running"
        assert await xrange(redis, "ftwatch:actions") == []
