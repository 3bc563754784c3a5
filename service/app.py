"""The app factory: one aiohttp application per process, parts chosen by role.

Resources live in `cleanup_ctx` in dependency order (Redis → client session →
background loops), so each is closed only after everything that uses it.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from collections.abc import AsyncIterator

import aiohttp
import structlog
from aiohttp import web

from service import keys
from service.api import health
from service.keys import Role
from service.metrics import Metrics
from service.settings import Settings
from service.store.connection import connect_redis
from service.store.embedded import EmbeddedRedis
from service.store.jobs import JobStore
from service.store.schedule import Schedule
from service.store.scripts import Scripts
from service.upstream.client import UpstreamClient
from workers.poller.job_poll import JobPoller
from workers.poller.runner import Poller

log = structlog.get_logger(__name__)

# Loops get this long to finish in-flight work on shutdown; well inside Kubernetes'
# default 30 s grace period so the process exits 0 before it is killed.
LOOP_STOP_TIMEOUT = 15.0


def replica_name(settings: Settings) -> str:
    """A stable, unique name per process: the pod's hostname plus the pid."""
    return settings.replica_name or f"{socket.gethostname()}-{os.getpid()}"


async def _redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    embedded: EmbeddedRedis | None = None
    url = settings.redis_url
    if not url:
        embedded = EmbeddedRedis(settings.data_dir)
        url = await embedded.start()
    client = connect_redis(url)
    scripts = Scripts(client)
    app[keys.REDIS] = client
    app[keys.SCRIPTS] = scripts
    app[keys.JOBS] = JobStore(
        client, scripts, maxlen=settings.stream_maxlen, window=settings.seen_window
    )
    app[keys.SCHEDULE] = Schedule(client, scripts, replica_name(settings))
    try:
        yield
    finally:
        await client.aclose()
        if embedded is not None:
            await embedded.stop()


async def _upstream_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    session = aiohttp.ClientSession()
    app[keys.SESSION] = session
    app[keys.UPSTREAM] = UpstreamClient(session, settings, app[keys.METRICS])
    try:
        yield
    finally:
        await session.close()


async def _poller_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    job_poller = JobPoller(app[keys.UPSTREAM], app[keys.JOBS], app[keys.METRICS])
    poller = Poller(app[keys.UPSTREAM], job_poller, app[keys.SCHEDULE], app[keys.METRICS], settings)
    task = asyncio.create_task(poller.run(app[keys.STOPPING]), name="poller")
    yield
    await _stop_loop(app, task)


async def _stop_loop(app: web.Application, task: asyncio.Task[None]) -> None:
    app[keys.STOPPING].set()
    try:
        await asyncio.wait_for(task, timeout=LOOP_STOP_TIMEOUT)
    except TimeoutError:
        log.warning("loop_stop_timeout", task=task.get_name())


async def _on_shutdown(app: web.Application) -> None:
    # Stop taking work before the server closes; loops see this between two items.
    app[keys.STOPPING].set()


def create_app(
    settings: Settings, *, role: Role = "all", metrics: Metrics | None = None
) -> web.Application:
    """Build the ftwatch application for `role` (all, api, poller or worker)."""
    app = web.Application()
    app[keys.SETTINGS] = settings
    app[keys.ROLE] = role
    app[keys.METRICS] = metrics or Metrics(max_job_series=settings.max_job_series)
    app[keys.STOPPING] = asyncio.Event()
    app[keys.STARTED] = time.monotonic()
    app.cleanup_ctx.append(_redis_ctx)
    app.cleanup_ctx.append(_upstream_ctx)
    if role in {"all", "poller"}:
        app.cleanup_ctx.append(_poller_ctx)
    app.on_shutdown.append(_on_shutdown)
    health.add_routes(app)
    return app
