"""The azure_openai provider against the simulator's Azure flavors: the same client,
another URL and auth, pause/resume only where the api-version has them."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.action import ActionTask
from service.models.firing import Firing, JobFacts
from service.providers.base import Provider, Unsupported
from service.providers.build import Parts, build_providers
from service.providers.config import AzureSpec
from service.providers.registry import Providers
from service.settings import Settings
from service.store import keys
from service.store.audit import AuditLog
from service.store.effects import Effects
from service.store.scripts import Scripts
from service.upstream.errors import NotFound
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.support import served, xrange
from workers.actions.executor import ActionExecutor
from workers.actions.queue import MAX_ACTION_DELIVERIES, ActionQueueHandler
from workers.notify.payloads import standard
from workers.notify.payloads.context import RenderContext
from workers.stream.consumer import Disposition

KEY = "azure-test-key"
JOB = "ftjob-az-1"
PREVIEW = "2025-04-01-preview"
GA = "2024-10-21"


async def _providers(
    url: str,
    api_version: str,
    settings: Settings,
    redis: aioredis.Redis,
    http: aiohttp.ClientSession,
) -> Providers:
    spec = AzureSpec(name="azure-east", kind="azure_openai", endpoint=url, api_version=api_version)
    parts = Parts(http, settings, Metrics(), Scripts(redis), environ={"AZURE_OPENAI_API_KEY": KEY})
    return build_providers(parts, [spec])


@pytest.fixture
async def platform() -> AsyncIterator[tuple[Platform, str, str]]:
    """One SFT job, running and a few steps in; the classic and v1 surfaces of it."""
    clock = ManualClock()
    job = JobSpec(id=JOB, step_period=1.0, start_after=0.0, total_steps=50, eval_interval=2)
    plat = Platform(Scenario(jobs=[job]), now=clock.now, wall=clock.wall)
    clock.advance(6)
    classic = create_simulator(plat, api_key=KEY, flavor="azure")
    v1 = create_simulator(plat, api_key=KEY, flavor="azure-v1")
    async with served(classic) as classic_url, served(v1) as v1_url:
        yield plat, classic_url, v1_url


async def test_an_upstream_error_names_azures_request_id_and_variables(
    platform: tuple[Platform, str, str], settings: Settings, redis: aioredis.Redis
) -> None:
    async with aiohttp.ClientSession() as http:
        provider = (await _providers(platform[1], PREVIEW, settings, redis, http))["azure-east"]
        with pytest.raises(NotFound) as caught:
            await provider.get_job("ftjob-nope")
    assert caught.value.request_header == "apim-request-id" and caught.value.request_id
    assert "[apim-request-id " in str(caught.value)


async def test_ga_has_no_pause_so_a_rules_pause_is_unsupported_and_notified(
    platform: tuple[Platform, str, str], settings: Settings, redis: aioredis.Redis
) -> None:
    plat = platform[0]
    async with aiohttp.ClientSession() as http:
        providers = await _providers(platform[1], GA, settings, redis, http)
        provider: Provider = providers["azure-east"]
        assert provider.supports("cancel") is None
        with pytest.raises(Unsupported):
            await provider.act("pause", JOB)
        metrics = Metrics()
        executor = ActionExecutor(providers, Effects(redis, Scripts(redis)), metrics)
        firing = Firing(
            firing_id="fir_ga",
            rule="reward-plateau",
            kind="plateau",
            job=JobFacts(id=JOB, provider="azure-east"),
            reason="flat",
            fired_at=1.0,
        )
        task = ActionTask(action="pause", firing=firing, notify=["ops"])
        result = await executor.execute(task)
        assert result.outcome == "unsupported"
        assert "azure-east" in result.detail and "2024-10-21" in result.detail
        again = await executor.execute(task)  # never retried: the effect is recorded
        assert again.outcome == "already"
    assert plat.actions == []  # nothing was sent upstream
    assert metrics.actions.labels("pause", "unsupported")._value.get() == 1
    page = await AuditLog(redis).page(job_id=f"azure-east:{JOB}")
    (entry,) = [item.action for _, item in page.items if item.action is not None]
    assert (entry.firing_id, entry.outcome, entry.actor) == ("fir_ga", "unsupported", "ftwatch")


async def test_an_unsupported_action_from_the_queue_is_notified_once_and_never_retried(
    platform: tuple[Platform, str, str], settings: Settings, redis: aioredis.Redis
) -> None:
    """The action queue's path: the entry is done (not left pending for a retry), one
    audit record, one ftwatch.action.failed delivery naming the provider and the reason."""
    plat = platform[0]
    async with aiohttp.ClientSession() as http:
        providers = await _providers(platform[1], GA, settings, redis, http)
        metrics = Metrics()
        handler = ActionQueueHandler(
            ActionExecutor(providers, Effects(redis, Scripts(redis)), metrics)
        )
        firing = Firing(
            firing_id="fir_queue",
            rule="reward-plateau",
            kind="plateau",
            job=JobFacts(id=JOB, provider="azure-east"),
            reason="flat",
            fired_at=1.0,
        )
        fields = {"t": ActionTask(action="pause", firing=firing, notify=["ops"]).model_dump_json()}
        assert await handler.handle("1-0", fields, 1) is Disposition.DONE
        # Redelivered (a crash before the ack, say), even past the retry budget: nothing new.
        assert await handler.handle("1-0", fields, MAX_ACTION_DELIVERIES) is Disposition.DONE
    assert plat.actions == []
    assert metrics.actions.labels("pause", "unsupported")._value.get() == 1
    page = await AuditLog(redis).page(job_id=f"azure-east:{JOB}")
    assert [i.action.outcome for _, i in page.items if i.action] == ["unsupported"]
    ((_, delivery),) = await xrange(redis, keys.DELIVERIES_STREAM)
    assert delivery["r"] == "ops"
    body = standard.build(Firing.model_validate_json(delivery["f"]), RenderContext(now=2.0))
    assert body["type"] == "ftwatch.action.failed"
    assert body["data"]["provider"] == "azure-east"
    (action,) = body["data"]["actions"]
    assert action["outcome"] == "unsupported"
    assert action["detail"] == (
        "provider 'azure-east' (azure_openai) cannot pause jobs: Azure's api-version"
        " 2024-10-21 has no pause; use a preview version or v1"
    )
