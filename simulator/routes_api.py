"""The `<prefix>/fine_tuning/...` routes: OpenAI's paths and JSON, shaped by the flavor."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web

from simulator.errors import ApiError, bad_limit
from simulator.faults import FaultInjector
from simulator.flavors import OPENAI, Flavor
from simulator.platform import Action, Platform
from simulator.stats import RequestStats

MAX_LIMIT = 100  # undocumented upstream (reference §1); 100 is OpenAI's usual list cap

dumps = functools.partial(json.dumps, separators=(",", ":"))


@dataclass
class SimState:
    """Everything the simulator app holds: the platform, faults, request counts, auth."""

    platform: Platform
    faults: FaultInjector
    stats: RequestStats = field(default_factory=RequestStats)
    api_key: str | None = None
    flavor: Flavor = OPENAI


STATE = web.AppKey("simulator_state", SimState)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


def error_response(exc: ApiError, flavor: Flavor = OPENAI) -> web.Response:
    body = flavor.envelope(exc)
    headers = exc.headers | flavor.error_headers(exc)
    return web.json_response(body, status=exc.status, headers=headers, dumps=dumps)


def _platform(request: web.Request) -> Platform:
    return request.app[STATE].platform


def _flavor(request: web.Request) -> Flavor:
    return request.app[STATE].flavor


def _limit(request: web.Request, default: int) -> int:
    raw = request.query.get("limit")
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_limit(raw, MAX_LIMIT) from None
    if not 1 <= value <= MAX_LIMIT:
        raise bad_limit(raw, MAX_LIMIT)
    return value


def _after(request: web.Request) -> str | None:
    return request.query.get("after") or None


async def list_jobs(request: web.Request) -> web.Response:
    query = request.query
    # deepObject style: metadata[team]=search; `metadata=null` selects jobs without metadata.
    metadata = {
        key[len("metadata[") : -1]: value
        for key, value in query.items()
        if key.startswith("metadata[") and key.endswith("]")
    }
    data, more = _platform(request).list_jobs(
        after=_after(request),
        limit=_limit(request, 20),
        metadata=metadata or None,
        metadata_null=query.get("metadata") == "null",
    )
    jobs = [_flavor(request).job(job) for job in data]
    return json_response({"object": "list", "data": jobs, "has_more": more})


async def get_job(request: web.Request) -> web.Response:
    job = _platform(request).get_job(request.match_info["job_id"])
    return json_response(_flavor(request).job(job))


async def list_events(request: web.Request) -> web.Response:
    data, more = _platform(request).list_events(
        request.match_info["job_id"], after=_after(request), limit=_limit(request, 20)
    )
    events = [_flavor(request).event(event) for event in data]
    return json_response({"object": "list", "data": events, "has_more": more})


async def list_checkpoints(request: web.Request) -> web.Response:
    data, more = _platform(request).list_checkpoints(
        request.match_info["job_id"], after=_after(request), limit=_limit(request, 10)
    )
    body: dict[str, Any] = {"object": "list", "data": data, "has_more": more}
    if _flavor(request).list_ids:
        body["first_id"] = data[0]["id"] if data else None
        body["last_id"] = data[-1]["id"] if data else None
    return json_response(body)


async def act(request: web.Request) -> web.Response:
    """POST .../pause|resume|cancel: the job afterwards, or 400 in the wrong state."""
    action = cast(Action, request.match_info["action"])
    job = _platform(request).act(request.match_info["job_id"], action)
    return json_response(_flavor(request).job(job))


def add_api_routes(app: web.Application, prefix: str = "/v1") -> None:
    base = prefix + "/fine_tuning/jobs"
    app.router.add_get(base, list_jobs)
    app.router.add_get(base + "/{job_id}", get_job)
    app.router.add_get(base + "/{job_id}/events", list_events)
    app.router.add_get(base + "/{job_id}/checkpoints", list_checkpoints)
    app.router.add_post(base + "/{job_id}/{action:pause|resume|cancel}", act)
