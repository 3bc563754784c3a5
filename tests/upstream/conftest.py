"""Fixtures for the upstream client: a scripted server, a session, a fake clock, a factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from service.metrics import Metrics
from service.settings import Settings
from service.upstream.client import Budget, UpstreamClient
from service.upstream.policy import RetryPolicy
from service.upstream.throttle import Throttle
from tests.upstream.scripted import ScriptedUpstream

API_KEY = "sk-test-NEVER-LOG-THIS-0123456789"
# Milliseconds of backoff keep retry tests fast; the shape is the production one.
FAST = RetryPolicy(base=0.001, cap=0.005)


class FakeClock:
    """A monotonic clock that only moves when the throttle sleeps on it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
async def upstream() -> AsyncIterator[ScriptedUpstream]:
    async with ScriptedUpstream().running() as scripted:
        yield scripted


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeClient = Callable[..., UpstreamClient]


@pytest.fixture
def make_client(
    upstream: ScriptedUpstream, session: aiohttp.ClientSession, clock: FakeClock
) -> MakeClient:
    """A client on the scripted server; keyword arguments override settings."""

    def make(
        *,
        throttle: Throttle | None = None,
        metrics: Metrics | None = None,
        budget: Budget | None = None,
        **overrides: Any,
    ) -> UpstreamClient:
        values: dict[str, Any] = {
            "openai_base_url": upstream.base_url,
            "openai_api_key": API_KEY,
            "upstream_timeout": 2.0,
            "upstream_max_attempts": 3,
        }
        values.update(overrides)
        settings = Settings(_env_file=None, **values)
        return UpstreamClient(
            session,
            settings,
            metrics or Metrics(),
            throttle=throttle or Throttle(clock=clock, sleep=clock.sleep),
            budget=budget,
            policy=FAST,
        )

    return make
