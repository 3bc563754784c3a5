"""Wire the HTTP API into the app: error middleware, routes per role, /openapi.json.

Every role serves /healthz, /readyz and /metrics; `all` and `api` serve the /v1 API.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from aiohttp import web

from service import cpu, keys
from service.api import (
    actions,
    control,
    decisions,
    deliveries,
    health,
    ingest,
    jobs,
    openapi,
    rules,
    webhooks,
)
from service.api.errors import error_middleware
from service.api.routing import Route, Routes

API_ROLES = frozenset({"all", "api"})

docs = Routes("meta")
docs.get("/openapi.json", "This API's OpenAPI document")(openapi.openapi_json)

V1: list[Route] = [
    *jobs.routes.items,
    *control.routes.items,
    *rules.routes.items,
    *actions.routes.items,
    *deliveries.routes.items,
    *ingest.routes.items,
    *decisions.routes.items,
    *webhooks.routes.items,
    *docs.items,
]


def _version() -> str:
    try:
        return version("ftwatch")
    except PackageNotFoundError:
        return "0.0.0"


def routes_for(role: str) -> list[Route]:
    return [*health.routes.items, *(V1 if role in API_ROLES else [])]


async def _end_long_polls(app: web.Application) -> None:
    """Shutdown: waiting decision long-polls answer 204 now, not at the end of `wait`."""
    if keys.DECISIONS in app:
        app[keys.DECISIONS].signals.close()


def setup_api(app: web.Application) -> None:
    """Add the middleware, the routes of this app's role and their OpenAPI document."""
    role = app[keys.ROLE]
    routes = routes_for(role)
    app.middlewares.append(error_middleware)
    if role in API_ROLES:
        webhooks.check_secret(app[keys.SETTINGS])
        app[ingest.LOCKS] = ingest.JobLocks()
        app.on_shutdown.append(_end_long_polls)
        app.cleanup_ctx.append(cpu.cpu_ctx)  # rules validation runs there
    app[openapi.OPENAPI] = openapi.build_openapi(routes, title="ftwatch", version=_version())
    for route in routes:
        app.router.add_route(route.method, route.path, route.endpoint())
