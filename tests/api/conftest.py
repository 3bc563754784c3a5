"""The real app (role api) served on a 127.0.0.1 port against the test's redis-server."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPConnection
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from service.app import create_app
from service.keys import Role
from service.models.event import NormalizedEvent
from service.models.job import JobSnapshot
from service.settings import Settings
from service.store.jobs import JobStore
from service.store.scripts import Scripts

TOKEN = "test-api-token"
WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes length").decode()
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@dataclass
class Api:
    """A served app and a client session for it."""

    url: str
    http: aiohttp.ClientSession
    app: web.Application

    async def call(
        self, method: str, path: str, *, auth: bool = False, **options: Any
    ) -> tuple[int, Any]:
        """Send a request; returns (status, parsed JSON or text)."""
        headers = dict(options.pop("headers", {}))
        if auth:
            headers |= AUTH
        async with self.http.request(method, self.url + path, headers=headers, **options) as r:
            text = await r.text()
            if r.content_type == "application/json":
                return r.status, json.loads(text)
            return r.status, text

    async def get(self, path: str, **options: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **options)

    async def post(self, path: str, **options: Any) -> tuple[int, Any]:
        return await self.call("POST", path, **options)


StartApi = Callable[..., Awaitable[Api]]


@pytest.fixture
async def start_api(settings: Settings) -> AsyncIterator[StartApi]:
    """`await start_api(role="api", **settings_overrides)`: serve a fresh app."""
    runners: list[web.AppRunner] = []
    sessions: list[aiohttp.ClientSession] = []

    async def start(role: Role = "api", **overrides: Any) -> Api:
        app = create_app(settings.model_copy(update=overrides), role=role)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        http = aiohttp.ClientSession()
        sessions.append(http)
        return Api(f"http://127.0.0.1:{runner.addresses[0][1]}", http, app)

    yield start
    for http in sessions:
        await http.close()
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
async def api(start_api: StartApi) -> Api:
    """The API with a token and an inbound webhook secret configured."""
    return await start_api(api_token=SecretStr(TOKEN), webhook_secret=SecretStr(WEBHOOK_SECRET))


async def seed_job(
    redis: Any, job_id: str, *, events: int = 0, settings: Settings | None = None, **fields: Any
) -> JobSnapshot:
    """Store a job the way the poller does (snapshot + `events` metrics events)."""
    store = JobStore(redis, Scripts(redis), maxlen=10_000, window=512)
    if "source" in fields:  # the tests' older spelling of the provider
        fields["provider"] = fields.pop("source")
    snapshot = JobSnapshot(job_id=job_id, **({"status": "running"} | fields))
    items = [
        NormalizedEvent(
            job_id=job_id,
            provider=snapshot.provider,
            event_id=f"{job_id}-ev{i}",
            created_at=1_700_000_000 + i,
            type="metrics",
            data={"step": i},
            metrics={"step": float(i)},
        )
        for i in range(events)
    ]
    await store.append(snapshot, items, cursor=None)
    return snapshot


@contextmanager
def healthz_probe(port: int) -> Iterator[list[float]]:
    """Round trips of GET /healthz, from a thread of their own (a client on the server's
    loop would stall with it and not see the stall)."""
    times: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        connection = HTTPConnection("127.0.0.1", port, timeout=30)
        while not stop.is_set():
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            times.append(time.perf_counter() - started)
            stop.wait(0.005)
        connection.close()

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    try:
        yield times
    finally:
        stop.set()
        thread.join(timeout=30)
