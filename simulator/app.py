"""The simulator's aiohttp app: `/v1` behind auth and faults, `/_sim` controls beside it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from simulator.errors import ApiError
from simulator.faults import FaultInjector
from simulator.platform import Platform
from simulator.presets import default_scenario
from simulator.routes_api import STATE, SimState, add_api_routes, error_response
from simulator.routes_control import add_control_routes
from simulator.scenario import Scenario, load_scenario

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization "
    "header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


def _authorize(request: web.Request, api_key: str | None) -> None:
    """401 unless `Authorization: Bearer <non-empty key>` (and the key, when one is set)."""
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        raise ApiError(401, _NO_KEY)
    if api_key is not None and key != api_key:
        raise ApiError(401, "Incorrect API key provided.", code="invalid_api_key")


def _endpoint(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource else '(unmatched)'}"


def _truncated(response: web.Response) -> web.Response:
    """Status 200, but only the first half of the JSON (a consistent Content-Length)."""
    body = bytes(response.body) if isinstance(response.body, bytes | bytearray) else b""
    return web.Response(body=body[: len(body) // 2], status=200, content_type="application/json")


def _record_fault(request: web.Request, state: SimState, status: int) -> None:
    action = request.match_info.get("action")
    if request.method == "POST" and action:
        state.platform.record_fault(request.match_info["job_id"], action, status)


async def _answer(request: web.Request, handler: Handler, state: SimState) -> web.StreamResponse:
    delay = state.faults.delay_s()
    if delay:
        await asyncio.sleep(delay)
    try:
        fault = state.faults.error()
        if fault is not None:
            _record_fault(request, state, fault.status)
            raise fault
        _authorize(request, state.api_key)
        response = await handler(request)
    except ApiError as exc:
        return error_response(exc)
    except web.HTTPException as exc:  # no such route under /v1: OpenAI's wording
        message = f"Invalid URL ({request.method} {request.path})"
        return error_response(ApiError(exc.status, message))
    if response.status == 200 and isinstance(response, web.Response) and state.faults.truncate():
        return _truncated(response)
    return response


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if not request.path.startswith("/v1/"):
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)
    response = await _answer(request, handler, state)
    state.stats.count(_endpoint(request), response.status)
    response.headers["x-request-id"] = "req_" + uuid.uuid4().hex
    return response


def create_app(
    source: Platform | Scenario | None = None, *, api_key: str | None = None
) -> web.Application:
    """The simulator app for a platform (or a scenario; None: the default demo scenario).

    `api_key`: when set, only that bearer key is accepted; otherwise any non-empty key.
    """
    platform = source if isinstance(source, Platform) else Platform(source or default_scenario())
    app = web.Application(middlewares=[_middleware])
    app[STATE] = SimState(
        platform=platform, faults=FaultInjector(platform.scenario.faults), api_key=api_key
    )
    add_api_routes(app)
    add_control_routes(app)
    return app


async def run_simulator(port: int, scenario_path: str | None, host: str = "127.0.0.1") -> None:
    """Serve the simulator on host:port until cancelled (`ftwatch simulate`)."""
    scenario = load_scenario(scenario_path) if scenario_path else default_scenario()
    runner = web.AppRunner(create_app(scenario), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound = runner.addresses[0][1] if runner.addresses else port
        log.info(
            "simulator.listening",
            base_url=f"http://{host}:{bound}/v1",
            jobs=[job.id for job in scenario.jobs],
        )
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
