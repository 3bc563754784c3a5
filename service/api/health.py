"""`/healthz` (the process is alive), `/readyz` (it can do its work) and `/metrics`."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from service import keys

# A poller is ready only if the upstream answered within this many poll intervals.
UPSTREAM_FRESH_INTERVALS = 6


async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    problems: list[str] = []
    if app[keys.STOPPING].is_set():
        problems.append("shutting down")
    try:
        await app[keys.REDIS].ping()
    except RedisError as exc:
        problems.append(f"redis unreachable: {exc.__class__.__name__}")
    problems += _upstream_problems(app)
    if problems:
        return web.json_response({"status": "not ready", "reasons": problems}, status=503)
    return web.json_response({"status": "ready"})


def _upstream_problems(app: web.Application) -> list[str]:
    if app[keys.ROLE] not in {"all", "poller"} or keys.UPSTREAM not in app:
        return []
    settings = app[keys.SETTINGS]
    last = app[keys.UPSTREAM].last_success_at
    window = max(settings.poll_interval, settings.discovery_interval) * UPSTREAM_FRESH_INTERVALS
    if last is not None and time.monotonic() - last <= window:
        return []
    if last is None and time.monotonic() - app[keys.STARTED] <= window:
        return []  # just started: give the first polls time to answer
    return [f"upstream has not answered for over {window:.0f}s"]


async def metrics(request: web.Request) -> web.Response:
    registry = request.app[keys.METRICS].registry
    body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
