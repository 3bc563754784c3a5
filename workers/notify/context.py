"""The delivery worker as an aiohttp cleanup context (roles `all` and `worker`).

Register after the Redis and upstream contexts (it takes their client, scripts and the
process's one ClientSession): `app.cleanup_ctx.append(delivery_ctx)`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from service import keys
from service.parts import background_loops, replica_name
from service.settings import environment
from workers.notify.worker import DeliveryConfig, DeliveryWorker


async def delivery_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the delivery worker; on cleanup stop it, letting in-flight attempts finish."""
    settings = app[keys.SETTINGS]
    worker = DeliveryWorker(
        app[keys.REDIS],
        app[keys.SCRIPTS],
        app[keys.SESSION],
        app[keys.RULES],
        app[keys.METRICS],
        consumer=replica_name(settings),
        environ=environment(),
        config=DeliveryConfig(claim_idle_ms=int(settings.claim_idle_seconds * 1000)),
    )
    async with background_loops(app, [worker.run(app[keys.STOPPING])]):
        yield
