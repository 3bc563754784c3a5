"""A simulator served on a real 127.0.0.1 port, driven by the official openai SDK."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import openai
import pytest
from aiohttp import web

from simulator.app import create_app
from simulator.platform import ManualClock, Platform
from simulator.scenario import Scenario


@dataclass
class Sim:
    """One served simulator: its engine, its clock and clients pointed at it."""

    platform: Platform
    clock: ManualClock
    url: str  # http://127.0.0.1:<port>
    client: openai.AsyncOpenAI
    http: aiohttp.ClientSession

    async def get(self, path: str, **params: Any) -> tuple[int, Any]:
        """GET with a valid key; returns (status, parsed JSON)."""
        headers = {"Authorization": "Bearer test"}
        async with self.http.get(self.url + path, params=params, headers=headers) as resp:
            return resp.status, await resp.json()

    async def control(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self.http.request(method, self.url + path, json=body) as resp:
            return resp.status, await resp.json()


StartSim = Callable[..., Awaitable[Sim]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def start_sim(clock: ManualClock) -> AsyncIterator[StartSim]:
    """`await start_sim(scenario, api_key=None)`: serve a simulator on a free port."""
    runners: list[web.AppRunner] = []
    closers: list[Callable[[], Awaitable[None]]] = []

    async def start(scenario: Scenario | None = None, **app_options: Any) -> Sim:
        platform = Platform(scenario, now=clock.now, wall=clock.wall)
        runner = web.AppRunner(create_app(platform, **app_options), access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="test", max_retries=0)
        http = aiohttp.ClientSession()
        closers.extend([client.close, http.close])
        return Sim(platform, clock, url, client, http)

    yield start
    for close in closers:
        await close()
    for runner in runners:
        await runner.cleanup()
