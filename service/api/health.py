"""`/healthz` (the process is alive), `/readyz` (it can do its work) and `/metrics`."""

from __future__ import annotations

import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from service import keys
from service.api.render import render
from service.api.routing import Routes
from service.api.schemas import Health, Readiness
from service.store.tls import RedisTLSError

# A poller is ready only if the upstream answered within this many poll intervals.
UPSTREAM_FRESH_INTERVALS = 6

routes = Routes("health")


@routes.get("/healthz", "Liveness: the process answers")
async def healthz(request: web.Request) -> Health:
    return Health(status="ok")


@routes.get(
    "/readyz",
    "Readiness: Redis answers, no background loop is crash-looping (and, for pollers,"
    " the upstream answered lately)",
    response=Readiness,
    responses={503: ("Not ready; `reasons` says why.", Readiness)},
)
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    problems: list[str] = []
    if app[keys.STOPPING].is_set():
        problems.append("shutting down")
    try:
        await app[keys.REDIS].ping()
    except RedisTLSError as exc:  # what failed and the fix, without hosts (an open endpoint)
        problems.append(f"redis unreachable: TLS: {exc.problem}; {exc.hint}")
    except RedisError as exc:
        problems.append(f"redis unreachable: {exc.__class__.__name__}")
    problems += _upstream_problems(app)
    supervisor = app[keys.SUPERVISOR]
    problems += supervisor.problems()
    loops = supervisor.states()
    if problems:
        return render(Readiness(status="not ready", reasons=problems, loops=loops), status=503)
    return render(Readiness(status="ready", loops=loops))


def _upstream_problems(app: web.Application) -> list[str]:
    """One reason per provider whose upstream has not answered lately (pollers only)."""
    if app[keys.ROLE] not in {"all", "poller"} or keys.PROVIDERS not in app:
        return []
    settings = app[keys.SETTINGS]
    window = max(settings.poll_interval, settings.discovery_interval) * UPSTREAM_FRESH_INTERVALS
    now = time.monotonic()
    if now - app[keys.STARTED] <= window:
        return []  # just started: give the first polls time to answer
    return [
        f"provider {p.name!r}: upstream has not answered for over {window:.0f}s"
        for p in app[keys.PROVIDERS].values()
        if p.last_success_at is None or now - p.last_success_at > window
    ]


@routes.get("/metrics", "Prometheus metrics", media_type="text/plain")
async def metrics(request: web.Request) -> web.Response:
    registry = request.app[keys.METRICS].registry
    body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
