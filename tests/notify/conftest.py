"""Fixtures of the delivery tests: a real receiver, a client session, workers to start."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.firing import Firing
from service.store import keys
from service.store.scripts import Scripts
from tests.notify.delivery_support import FAST, environ_for
from tests.notify.webhook_receiver import WebhookReceiver, serve_receiver
from workers.notify.worker import DeliveryConfig, DeliveryWorker
from workers.rules.config import RulesFile


@dataclass
class Harness:
    """Starts delivery workers on one Redis; stops or kills them."""

    redis: aioredis.Redis
    http: aiohttp.ClientSession
    metrics: Metrics = field(default_factory=Metrics)
    tasks: list[tuple[asyncio.Task[None], asyncio.Event]] = field(default_factory=list)

    def worker(
        self,
        rules: RulesFile,
        *,
        config: DeliveryConfig = FAST,
        name: str = "w1",
        environ: dict[str, str] | None = None,
    ) -> DeliveryWorker:
        return DeliveryWorker(
            self.redis,
            Scripts(self.redis),
            self.http,
            rules,
            self.metrics,
            consumer=name,
            environ=environ if environ is not None else environ_for(rules),
            config=config,
        )

    def start(self, worker: DeliveryWorker) -> asyncio.Task[None]:
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        self.tasks.append((task, stop))
        return task

    async def stop_all(self) -> None:
        for _task, stop in self.tasks:
            stop.set()
        for task, _ in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, timeout=10)

    async def request(self, receiver_name: str, firing: Firing) -> str:
        """What the rule worker does: one request on `ftwatch:deliveries`."""
        fields: Any = {"r": receiver_name, "f": firing.model_dump_json()}
        return str(await self.redis.xadd(keys.DELIVERIES_STREAM, fields))

    def count(self, receiver_name: str, outcome: str) -> float:
        value = self.metrics.registry.get_sample_value(
            "ftwatch_webhook_deliveries_total", {"receiver": receiver_name, "outcome": outcome}
        )
        return value or 0.0


@pytest.fixture
async def hooks() -> AsyncIterator[WebhookReceiver]:
    async for receiver_app in serve_receiver():
        yield receiver_app


@pytest.fixture
async def harness(redis: aioredis.Redis) -> AsyncIterator[Harness]:
    async with aiohttp.ClientSession() as http:
        h = Harness(redis, http)
        try:
            yield h
        finally:
            await h.stop_all()
