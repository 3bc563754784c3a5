"""The `/v1/fine_tuning/...` routes: the same paths, JSON and errors as OpenAI's API."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from typing import Any, cast

from aiohttp import web

from simulator.errors import ApiError, bad_limit
from simulator.faults import FaultInjector
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


STATE = web.AppKey("simulator_state", SimState)


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=dumps)


def error_response(exc: ApiError) -> web.Response:
    return web.json_response(exc.envelope(), status=exc.status, headers=exc.headers, dumps=dumps)


def _platform(request: web.Request) -> Platform:
    return request.app[STATE].platform


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
    return json_response({"object": "list", "data": data, "has_more": more})


async def get_job(request: web.Request) -> web.Response:
    return json_response(_platform(request).get_job(request.match_info["job_id"]))


async def list_events(request: web.Request) -> web.Response:
    data, more = _platform(request).list_events(
        request.match_info["job_id"], after=_after(request), limit=_limit(request, 20)
    )
    return json_response({"object": "list", "data": data, "has_more": more})


async def list_checkpoints(request: web.Request) -> web.Response:
    data, more = _platform(request).list_checkpoints(
        request.match_info["job_id"], after=_after(request), limit=_limit(request, 10)
    )
    return json_response(
        {
            "object": "list",
            "data": data,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
            "has_more": more,
        }
    )


async def act(request: web.Request) -> web.Response:
    """POST .../pause|resume|cancel: the job afterwards, or 400 in the wrong state."""
    action = cast(Action, request.match_info["action"])
    return json_response(_platform(request).act(request.match_info["job_id"], action))


def add_api_routes(app: web.Application) -> None:
    base = "/v1/fine_tuning/jobs"
    app.router.add_get(base, list_jobs)
    app.router.add_get(base + "/{job_id}", get_job)
    app.router.add_get(base + "/{job_id}/events", list_events)
    app.router.add_get(base + "/{job_id}/checkpoints", list_checkpoints)
    app.router.add_post(base + "/{job_id}/{action:pause|resume|cancel}", act)
