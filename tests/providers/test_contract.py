"""The provider contract, for every kind through each of its simulator flavors: listing with
paging, reads, events once each after a cursor, actions, statuses mapped, 5xx retried.

Adding a kind means adding its flavors to FLAVORS below (test_registry checks the kinds)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.providers.base import ACTIONS, Provider, Unsupported
from service.providers.build import Parts, build_providers
from service.providers.config import AzureSpec, OpenAISpec, ProviderSpec, TogetherSpec
from service.settings import Settings
from service.store.scripts import Scripts
from service.upstream.models import JobEvent
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.scenario import JobSpec, Scenario
from tests.support import served

KEY = "contract-key"
JOBS = ["ftjob-c-0", "ftjob-c-1", "ftjob-c-2"]  # oldest first


def _spec(flavor: str, url: str) -> ProviderSpec:
    if flavor == "openai":
        return OpenAISpec(name="p", kind="openai", base_url=f"{url}/v1", api_key_env="K")
    if flavor == "together":
        return TogetherSpec(name="p", kind="together", base_url=url, api_key_env="K")
    version = "2025-04-01-preview" if flavor == "azure" else "v1"
    return AzureSpec(
        name="p", kind="azure_openai", endpoint=url, api_version=version, api_key_env="K"
    )


FLAVORS = ["openai", "azure", "azure-v1", "together"]


@dataclass
class Rig:
    platform: Platform
    clock: ManualClock
    provider: Provider
    metrics: Metrics


@pytest.fixture(params=FLAVORS)
async def rig(
    request: pytest.FixtureRequest, settings: Settings, redis: aioredis.Redis
) -> AsyncIterator[Rig]:
    clock = ManualClock()
    jobs = [
        JobSpec(id=j, step_period=1.0, start_after=0.0, total_steps=400, eval_interval=2)
        for j in JOBS
    ]
    platform = Platform(Scenario(jobs=jobs), now=clock.now, wall=clock.wall)
    clock.advance(6)
    app = create_simulator(platform, api_key=KEY, flavor=request.param)
    metrics = Metrics()
    async with served(app) as url, aiohttp.ClientSession() as http:
        parts = Parts(http, settings, metrics, Scripts(redis), environ={"K": KEY})
        provider = build_providers(parts, [_spec(request.param, url)])["p"]
        yield Rig(platform, clock, provider, metrics)


async def test_listing_pages_through_every_job_newest_first(rig: Rig) -> None:
    seen: list[str] = []
    after: str | None = None
    for _ in range(len(JOBS) + 1):  # bounded: one page per job, and one to spare
        page = await rig.provider.list_jobs(after, 1)
        seen += [job.id for job in page.data]
        if not page.has_more:
            break
        after = page.data[-1].id
    assert seen == JOBS[::-1]


def _train_steps(events: list[JobEvent]) -> list[int]:
    """The steps whose training loss the events carry, in arrival order."""
    return [e.data["step"] for e in events if e.data and "train_loss" in e.data]


async def test_events_after_a_cursor_arrive_once_in_order_across_pages(rig: Rig) -> None:
    first = await rig.provider.new_events(JOBS[0], None, None)
    assert first.events and first.newest_id is not None
    rig.clock.advance(150)  # 150 steps: more than one page of events
    later = await rig.provider.new_events(JOBS[0], first.newest_id, len(first.events))
    events = first.events + later.events
    ids = [e.id for e in events]
    assert len(ids) == len(set(ids))
    assert _train_steps(events) == list(range(1, 157))  # 6 steps in at the start, +150
    messages = [e.message for e in events if e.type != "metrics"]
    assert messages and "Checkpoint" in messages[-1]  # step 156 is an eval step: saved
    assert (await rig.provider.new_events(JOBS[0], later.newest_id, 0)).events == []


async def test_supported_actions_reach_the_upstream_and_the_others_never_do(rig: Rig) -> None:
    supported = [a for a in ACTIONS if rig.provider.supports(a) is None]
    assert "cancel" in supported  # every kind can cancel (SPEC §4)
    for action in ACTIONS:
        if action in supported:
            await rig.provider.act(action, JOBS[1])
        else:
            with pytest.raises(Unsupported):
                await rig.provider.act(action, JOBS[1])
    assert [a.action for a in rig.platform.actions if a.outcome == "ok"] == supported
    assert (await rig.provider.get_job(JOBS[1])).lifecycle == "cancelled"


async def test_a_queued_job_maps_to_ftwatchs_queued_whatever_the_vendor_calls_it(
    rig: Rig,
) -> None:
    rig.platform.set_status(JOBS[2], "queued")
    job = await rig.provider.get_job(JOBS[2])
    assert job.lifecycle == "queued"  # Azure classic says `pending`, the others `queued`


async def test_server_errors_are_retried_and_counted(rig: Rig, settings: Settings) -> None:
    rig.platform.scenario.faults.error_rate_5xx = 0.5
    rig.platform.scenario.faults.seed = 7
    for _ in range(6):
        assert (await rig.provider.get_job(JOBS[0])).id == JOBS[0]

    def counted(code: str) -> float:
        labels = {"provider": "p", "endpoint": "get_job", "code": code}
        value = rig.metrics.registry.get_sample_value("ftwatch_upstream_requests_total", labels)
        return value or 0.0

    assert counted("200") == 6
    assert sum(counted(code) for code in ("500", "502", "503")) >= 1
