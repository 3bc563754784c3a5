"""delivery_ctx in a real app: a request on the stream reaches the receiver, on schedule."""

from __future__ import annotations

import itertools

import pytest
import redis.asyncio as aioredis
from aiohttp import web

from service.app import create_app
from service.models.firing import Firing
from service.settings import Settings
from service.store import keys
from tests.notify.delivery_support import receiver, rules_with
from tests.notify.samples import plateau_firing
from tests.notify.webhook_receiver import SECRET, Endpoint, WebhookReceiver
from tests.support import eventually, served
from workers.notify.context import delivery_config
from workers.notify.delivery_policy import RetrySchedule


@pytest.fixture(autouse=True)
def _ops_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET_OPS", SECRET)


async def deliver(app: web.Application, redis: aioredis.Redis, hooks: WebhookReceiver) -> Firing:
    """Serve `app`, queue one firing for `ops`, wait until `ops` accepted it."""
    firing: Firing = plateau_firing()
    async with served(app):
        await redis.xadd(keys.DELIVERIES_STREAM, {"r": "ops", "f": firing.model_dump_json()})

        async def arrived() -> bool:
            return len(hooks["ops"].delivered) == 1

        await eventually(arrived)
    return firing


async def test_the_app_delivers_what_the_rules_queue(
    settings: Settings, redis: aioredis.Redis, hooks: WebhookReceiver
) -> None:
    rules = rules_with(receiver("ops", hooks.add("ops")))
    app = create_app(settings, role="worker", rules=rules)
    firing = await deliver(app, redis, hooks)
    [arrival] = hooks["ops"].arrivals
    assert arrival.verified
    assert arrival.body["data"]["firing_id"] == firing.firing_id


async def test_the_app_retries_on_the_configured_schedule(
    settings: Settings,
    redis: aioredis.Redis,
    hooks: WebhookReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FTWATCH_WEBHOOK_RETRY_DELAYS", "0.2s,0.2s")
    configured = Settings(
        redis_url=settings.redis_url,
        data_dir=settings.data_dir,
        openai_base_url=settings.openai_base_url,
        _env_file=None,
    )
    rules = rules_with(receiver("ops", hooks.add("ops", Endpoint(statuses=[503, 503]))))
    await deliver(create_app(configured, role="worker", rules=rules), redis, hooks)
    arrivals = hooks["ops"].arrivals
    assert [a.status for a in arrivals] == [503, 503, 200]
    assert len({a.webhook_id for a in arrivals}) == 1
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(arrivals)]
    # 0.2 s ± 20 % jitter; the default schedule would wait at least 4 s, then 24 s.
    assert all(0.15 <= gap < 3 for gap in gaps), gaps


def test_unset_retry_delays_keep_the_default_schedule(settings: Settings) -> None:
    assert settings.webhook_retry_delays is None
    assert delivery_config(settings).schedule == RetrySchedule()
