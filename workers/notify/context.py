"""The delivery worker as an aiohttp cleanup context (roles `all` and `worker`).

Register after the Redis and upstream contexts (it takes their client, scripts and the
process's one ClientSession): `app.cleanup_ctx.append(delivery_ctx)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from service import keys
from service.parts import replica_name
from service.settings import Settings, environment
from workers.notify.delivery_policy import RetrySchedule
from workers.notify.worker import DeliveryConfig, DeliveryWorker


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the delivery worker's loops under the app's supervisor (which stops them)."""
    settings = app[keys.SETTINGS]
    worker = DeliveryWorker(
        app[keys.REDIS],
        app[keys.SCRIPTS],
        app[keys.SESSION],
        app[keys.RULES],
        app[keys.METRICS],
        consumer=replica_name(settings),
        environ=environment(),
        config=delivery_config(settings),
    )
    supervisor = app[keys.SUPERVISOR]
    for name, factory in worker.loops(app[keys.STOPPING]).items():
        supervisor.start(name, factory)
    yield


def delivery_config(settings: Settings) -> DeliveryConfig:
    """The worker's knobs from the settings; unset retry delays keep the default schedule."""
    delays = settings.webhook_retry_delays
    schedule = RetrySchedule() if delays is None else RetrySchedule.with_delays(delays)
    return DeliveryConfig(schedule=schedule, claim_idle_ms=int(settings.claim_idle_seconds * 1000))
