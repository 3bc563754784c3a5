"""delivery_ctx in a real app: a request on the stream reaches the receiver."""

from __future__ import annotations

import pytest
import redis.asyncio as aioredis

from service.app import create_app
from service.models.firing import Firing
from service.settings import Settings
from service.store import keys
from tests.notify.delivery_support import receiver, rules_with
from tests.notify.samples import plateau_firing
from tests.notify.webhook_receiver import SECRET, WebhookReceiver
from tests.support import eventually, served
from workers.notify.context import delivery_ctx


async def test_the_app_delivers_what_the_rules_queue(
    settings: Settings,
    redis: aioredis.Redis,
    hooks: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SECRET_OPS", SECRET)
    rules = rules_with(receiver("ops", hooks.add("ops")))
    app = create_app(settings, role="worker", rules=rules)
    app.cleanup_ctx.append(delivery_ctx)  # what service/app.py does for all and worker
    firing: Firing = plateau_firing()
    async with served(app):
        await redis.xadd(keys.DELIVERIES_STREAM, {"r": "ops", "f": firing.model_dump_json()})

        async def arrived() -> bool:
            return len(hooks["ops"].delivered) == 1

        await eventually(arrived)
    [arrival] = hooks["ops"].arrivals
    assert arrival.verified
    assert arrival.body["data"]["firing_id"] == firing.firing_id
