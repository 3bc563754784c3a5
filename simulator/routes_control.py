"""The `/_sim/...` control routes for tests and benchmarks: no auth, never faulted."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.errors import ApiError
from simulator.faults import Faults
from simulator.routes_api import STATE, json_response
from simulator.scenario import JobSpec, format_errors


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AdvanceBody(_Body):
    steps: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> AdvanceBody:
        if (self.steps is None) == (self.seconds is None):
            raise ValueError("give exactly one of steps or seconds")
        return self


class StatusBody(_Body):
    status: str = Field(min_length=1)


class EventsBody(_Body):
    events: list[Any]
    complete: bool = False


async def _body(request: web.Request) -> Any:
    try:
        return await request.json()
    except json.JSONDecodeError as exc:
        raise ApiError(400, f"request body is not JSON: {exc}") from None


def _parse(model: type[BaseModel], raw: Any) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise ApiError(400, format_errors(exc)) from None


async def get_faults(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].faults.faults.model_dump())


async def put_faults(request: web.Request) -> web.Response:
    """PUT replaces every setting (omitted ones take defaults); PATCH changes only those given."""
    raw = await _body(request)
    injector = request.app[STATE].faults
    if request.method == "PATCH" and isinstance(raw, dict):
        raw = injector.faults.model_dump() | raw
    injector.set(_parse(Faults, raw))
    return json_response(injector.faults.model_dump())


async def get_stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return json_response(state.stats.to_json(state.faults.injected))


async def get_actions(request: web.Request) -> web.Response:
    job_id = request.query.get("job_id")
    records = request.app[STATE].platform.actions
    data = [r.to_json() for r in records if job_id is None or r.job_id == job_id]
    return json_response({"actions": data})


async def list_jobs(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].platform.summary())


async def add_job(request: web.Request) -> web.Response:
    spec = _parse(JobSpec, await _body(request))
    return json_response(request.app[STATE].platform.add_job(spec), status=201)


async def inject_events(request: web.Request) -> web.Response:
    """Body: a list of event objects, or `{"events": [...], "complete": bool}`."""
    raw = await _body(request)
    body: EventsBody = _parse(EventsBody, {"events": raw} if isinstance(raw, list) else raw)
    ids = request.app[STATE].platform.inject_events(
        request.match_info["job_id"], body.events, complete=body.complete
    )
    return json_response({"ids": ids, "count": len(ids)})


async def advance(request: web.Request) -> web.Response:
    body: AdvanceBody = _parse(AdvanceBody, await _body(request))
    platform = request.app[STATE].platform
    job_id = request.match_info["job_id"]
    count = platform.fast_forward(job_id, steps=body.steps, seconds=body.seconds)
    return json_response({"new_events": count, "job": platform.get_job(job_id)})


async def set_status(request: web.Request) -> web.Response:
    body: StatusBody = _parse(StatusBody, await _body(request))
    job_id = request.match_info["job_id"]
    return json_response(request.app[STATE].platform.set_status(job_id, body.status))


async def job_visibility(request: web.Request) -> web.Response:
    rows = request.app[STATE].platform.visibility(request.match_info["job_id"])
    return json_response({"data": rows})


async def event_visibility(request: web.Request) -> web.Response:
    return json_response(request.app[STATE].platform.visible_at(request.match_info["event_id"]))


def add_control_routes(app: web.Application) -> None:
    router = app.router
    router.add_get("/_sim/faults", get_faults)
    router.add_put("/_sim/faults", put_faults)
    router.add_patch("/_sim/faults", put_faults)
    router.add_get("/_sim/stats", get_stats)
    router.add_get("/_sim/actions", get_actions)
    router.add_get("/_sim/jobs", list_jobs)
    router.add_post("/_sim/jobs", add_job)
    router.add_post("/_sim/jobs/{job_id}/events", inject_events)
    router.add_post("/_sim/jobs/{job_id}/advance", advance)
    router.add_post("/_sim/jobs/{job_id}/status", set_status)
    router.add_get("/_sim/jobs/{job_id}/visible", job_visibility)
    router.add_get("/_sim/events/{event_id}/visible", event_visibility)
