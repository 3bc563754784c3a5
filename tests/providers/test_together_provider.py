"""The together provider against the simulator's together flavor: bounded metric reads,
one listing per sweep, Together's own fields, checkpoint names, cancel as the only action."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import SimpleNamespace

import aiohttp
import pytest
import redis.asyncio as aioredis
from yarl import URL

from service.metrics import Metrics
from service.providers.base import NewEvents
from service.providers.build import Parts, build_providers
from service.providers.config import TogetherSpec, check_env
from service.providers.together import LACKING, METRIC_STEPS, Together, api_root
from service.settings import Settings
from service.store.scripts import Scripts
from simulator.app import create_app as create_simulator
from simulator.platform import ManualClock, Platform
from simulator.presets import TOGETHER_SFT_EARLY_STOP, together_scenario
from simulator.scenario import JobSpec
from tests.support import served

KEY = "together-key"
LONG = "ft-long"


@dataclass
class Rig:
    platform: Platform
    clock: ManualClock
    provider: Together
    urls: list[URL]


@pytest.fixture
async def rig(settings: Settings, redis: aioredis.Redis) -> AsyncIterator[Rig]:
    clock = ManualClock()
    scenario = together_scenario(step_period=1.0)
    scenario.jobs.append(JobSpec(id=LONG, step_period=0.01, start_after=0.0, total_steps=2500))
    platform = Platform(scenario, now=clock.now, wall=clock.wall)
    urls: list[URL] = []

    async def seen(_: object, __: SimpleNamespace, params: aiohttp.TraceRequestStartParams) -> None:
        urls.append(params.url)

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(seen)
    app = create_simulator(platform, api_key=KEY, flavor="together")
    async with served(app) as url, aiohttp.ClientSession(trace_configs=[trace]) as http:
        parts = Parts(http, settings, Metrics(), Scripts(redis), environ={"K": KEY})
        spec = TogetherSpec(name="tg", kind="together", base_url=url, api_key_env="K")
        provider = build_providers(parts, [spec])["tg"]
        assert isinstance(provider, Together)
        yield Rig(platform, clock, provider, urls)


def _train_steps(found: NewEvents) -> list[int]:
    return [e.data["step"] for e in found.events if e.data and "train_loss" in e.data]


async def test_metrics_are_read_from_the_last_step_in_bounded_windows(rig: Rig) -> None:
    rig.clock.advance(30)  # the long job is 2500 steps in, and done
    cursor = None
    windows: list[tuple[int, int]] = []
    for _ in range(3):
        found = await rig.provider.new_events(LONG, cursor, None)
        steps = _train_steps(found)
        windows.append((steps[0], steps[-1]))
        cursor = found.newest_id
    assert windows == [(1, METRIC_STEPS), (METRIC_STEPS + 1, 2000), (2001, 2500)]
    asked = [
        (int(u.query["global_step_from"]), int(u.query["global_step_to"]))
        for u in rig.urls
        if u.path.endswith("/metrics")
    ]
    assert asked == [(0, 1000), (1000, 2000), (2000, 3000)]  # never the series from 0 again
    assert _train_steps(await rig.provider.new_events(LONG, cursor, None)) == []


async def test_a_sweep_lists_the_account_once_however_many_pages(rig: Rig) -> None:
    seen, after = [], None
    for _ in range(5):
        page = await rig.provider.list_jobs(after, 1)
        seen += [job.id for job in page.data]
        if not page.has_more:
            break
        after = page.data[-1].id
    # Every job once (created at one instant here, so the order is by id, newest first).
    assert seen == sorted([LONG, *(j.id or "" for j in together_scenario().jobs)], reverse=True)
    assert [u.path for u in rig.urls] == ["/v1/fine-tunes"]


async def test_early_stopping_is_surfaced_as_provider_details(rig: Rig) -> None:
    rig.clock.advance(40)
    job = await rig.provider.get_job(TOGETHER_SFT_EARLY_STOP)
    assert (job.status, job.lifecycle) == ("completed", "succeeded")
    assert job.provider_details["early_stopped"] is True
    assert isinstance(job.provider_details["early_stopping_best_step"], int)
    assert isinstance(job.provider_details["early_stopping_best_metric"], float)


async def test_checkpoints_are_job_and_step_named(rig: Rig) -> None:
    rig.clock.advance(40)
    page = await rig.provider.list_checkpoints(TOGETHER_SFT_EARLY_STOP, limit=3)
    names = [c.fine_tuned_model_checkpoint for c in page.data]
    assert names == [TOGETHER_SFT_EARLY_STOP, *(f"{TOGETHER_SFT_EARLY_STOP}:{s}" for s in (15, 10))]
    assert page.has_more


async def test_cancel_is_the_only_action(rig: Rig) -> None:
    assert [rig.provider.supports(a) for a in ("pause", "resume", "cancel")] == [
        LACKING["pause"],
        LACKING["resume"],
        None,
    ]
    job = await rig.provider.act("cancel", LONG)
    assert (job.status, job.lifecycle) == ("cancel_requested", "cancelled")
    assert [a.action for a in rig.platform.actions] == ["cancel"]


def test_the_api_root_takes_a_bare_host_or_a_v1_url() -> None:
    assert api_root("https://api.together.ai") == "https://api.together.ai/v1"
    assert api_root("https://api.together.ai/v1/") == "https://api.together.ai/v1"


def test_unset_together_key_is_named() -> None:
    spec = TogetherSpec(name="tg", kind="together")
    assert check_env([spec], {}) == [
        "providers[0].api_key_env: environment variable TOGETHER_API_KEY is not set"
    ]


async def test_a_429_holds_the_client_for_its_retry_after_then_the_call_succeeds(
    rig: Rig,
) -> None:
    faults = rig.platform.scenario.faults
    faults.rate_429 = 0.5  # drawn from the injector's seeded RNG: the same 429s every run
    started = time.monotonic()
    for _ in range(3):
        assert (await rig.provider.get_job(LONG)).id == LONG
    assert rig.provider.client.throttle.blocked_until > started  # a 429 held the client
    assert time.monotonic() - started >= faults.retry_after_s  # ... as long as it asked
