"""The simulator's aiohttp app: the flavor's API behind auth and faults, `/_sim` controls."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from simulator.errors import ApiError
from simulator.faults import FaultInjector
from simulator.flavors import OPENAI, Flavor, flavor_named
from simulator.platform import Platform
from simulator.presets import default_scenario, together_scenario
from simulator.routes_api import STATE, SimState, add_api_routes, error_response
from simulator.routes_control import add_control_routes
from simulator.scenario import Scenario, load_scenario
from simulator.together import add_together_routes

log = structlog.get_logger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# Flavors whose paths are not OpenAI's `/fine_tuning/jobs`.
_ROUTES: dict[str, Callable[[web.Application, str], None]] = {"together": add_together_routes}


def _default_scenario(flavor: Flavor) -> Scenario:
    # Together runs no RFT: its default plays SFT and DPO jobs instead of the demo's four.
    return together_scenario() if flavor.name == "together" else default_scenario()


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


def _check(request: web.Request, state: SimState) -> None:
    """Auth first (as API gateways do), then the api-version and the operation it offers."""
    flavor = state.flavor
    flavor.authorize(request.headers, state.api_key)
    action = request.match_info.get("action") if request.method == "POST" else None
    flavor.check_version(request.query.get("api-version"), action)


async def _answer(request: web.Request, handler: Handler, state: SimState) -> web.StreamResponse:
    delay = state.faults.delay_s()
    if delay:
        await asyncio.sleep(delay)
    try:
        fault = state.faults.error()
        if fault is not None:
            _record_fault(request, state, fault.status)
            raise fault
        _check(request, state)
        response = await handler(request)
    except ApiError as exc:
        return error_response(exc, state.flavor)
    except web.HTTPException as exc:  # no such route under the API root: the vendor's wording
        unknown = state.flavor.unknown_path(exc.status, request.method, request.path)
        return error_response(unknown, state.flavor)
    if response.status == 200 and isinstance(response, web.Response) and state.faults.truncate():
        return _truncated(response)
    return response


@web.middleware
async def _middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE]
    if not request.path.startswith(state.flavor.prefix + "/"):
        try:
            return await handler(request)
        except ApiError as exc:
            return error_response(exc)
    response = await _answer(request, handler, state)
    state.stats.count(_endpoint(request), response.status)
    name, value = state.flavor.request_id()
    response.headers[name] = value
    return response


def create_app(
    source: Platform | Scenario | None = None,
    *,
    api_key: str | None = None,
    flavor: Flavor | str = OPENAI,
) -> web.Application:
    """The simulator app for a platform (or a scenario; None: the default demo scenario).

    `api_key`: when set, only that key is accepted; otherwise any non-empty key.
    `flavor`: the vendor surface (`openai`, `azure`, `azure-v1`, `together`; flavors.py).
    """
    chosen = flavor_named(flavor)
    if not isinstance(source, Platform):
        source = Platform(source or _default_scenario(chosen))
    platform = source
    app = web.Application(middlewares=[_middleware])
    faults = FaultInjector(platform.scenario.faults)
    app[STATE] = SimState(platform=platform, faults=faults, api_key=api_key, flavor=chosen)
    _ROUTES.get(chosen.name, add_api_routes)(app, chosen.prefix)
    add_control_routes(app)
    return app


async def start_simulator(
    port: int,
    scenario_path: str | None,
    host: str = "127.0.0.1",
    *,
    flavor: Flavor | str = OPENAI,
) -> web.AppRunner:
    """Load the scenario and listen; raises ScenarioError or OSError (port in use) first."""
    chosen = flavor_named(flavor)
    scenario = load_scenario(scenario_path) if scenario_path else _default_scenario(chosen)
    runner = web.AppRunner(create_app(scenario, flavor=chosen), access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1] if runner.addresses else port
    log.info(
        "simulator.listening",
        flavor=chosen.name,
        base_url=f"http://{host}:{bound}{chosen.prefix}",
        jobs=[job.id for job in scenario.jobs],
    )
    return runner


async def run_simulator(
    port: int,
    scenario_path: str | None,
    host: str = "127.0.0.1",
    *,
    flavor: Flavor | str = OPENAI,
) -> None:
    """Serve the simulator on host:port until cancelled."""
    runner = await start_simulator(port, scenario_path, host, flavor=flavor)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
