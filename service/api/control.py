"""POST /v1/jobs/{job_id}/pause|resume|cancel: manual control, recorded as done by the API.

The action executor records each one in the audit log (`rule: api`, `kind: manual`);
for ingested jobs there is no upstream to call: a pause or cancel becomes a decision for
the trainer (api/decisions.py), a resume is unsupported.
"""

from __future__ import annotations

from typing import Literal
from uuid import uuid4

import structlog
from aiohttp import web

from service import keys
from service.api.errors import ApiError
from service.api.jobs import load_snapshot
from service.api.routing import Routes
from service.api.schemas import ActionResultView, JobId, ManualRequest, ManualResult, view_of
from service.upstream.errors import UpstreamError
from workers.rules.firings import facts_of_snapshot

log = structlog.get_logger(__name__)
# Who asks, when the body does not say: a proxy or script in front of ftwatch sets it.
ACTOR_HEADER = "X-Ftwatch-Actor"
MAX_ACTOR = 128
routes = Routes("control")
_RESPONSES = {
    409: ("Several providers have a job of this id; name it `<provider>:<id>`.", None),
    502: ("The upstream API failed; nothing was recorded as done.", None),
    503: ("Actions are unavailable in this process.", None),
}


def _by(request: web.Request, body: ManualRequest | None) -> str:
    """`api`, or `api:<actor>` from the body or the X-Ftwatch-Actor header (the body wins)."""
    actor = (body.actor if body else None) or request.headers.get(ACTOR_HEADER, "").strip()
    if not actor:
        return "api"
    if len(actor) > MAX_ACTOR or "\n" in actor:
        raise ApiError(
            422, "invalid_request", f"{ACTOR_HEADER}: at most {MAX_ACTOR} characters, one line"
        )
    return f"api:{actor}"


async def _perform(
    request: web.Request,
    job_id: str,
    action: Literal["pause", "resume", "cancel"],
    body: ManualRequest | None,
) -> ManualResult:
    snapshot = await load_snapshot(request, job_id)
    executor = request.app.get(keys.ACTIONS)
    if executor is None:
        raise ApiError(503, "actions_unavailable", "this process cannot perform actions")
    facts = facts_of_snapshot(snapshot)
    firing_id = f"api:{uuid4()}"
    try:
        by = _by(request, body)
        reason = body.reason if body else None
        result = await executor.perform(facts, action, firing_id=firing_id, by=by, reason=reason)
    except UpstreamError as exc:
        log.warning("manual_action_failed", job=snapshot.key, action=action, error=str(exc))
        raise ApiError(502, "upstream_error", f"{action} failed: {exc}") from None
    log.info("manual_action", job=snapshot.key, action=action, outcome=result.outcome, by=by)
    return ManualResult(
        provider=snapshot.provider,
        job_id=snapshot.job_id,
        action=action,
        firing_id=firing_id,
        by=by,
        result=view_of(ActionResultView, result),
    )


@routes.post("/v1/jobs/{job_id}/pause", "Pause a job", auth=True, responses=_RESPONSES)
async def pause_job(
    request: web.Request, job_id: JobId, body: ManualRequest | None
) -> ManualResult:
    """`result.outcome` says what came of it: ok, already, skipped, failed or unsupported
    (the job's provider has no such action; the detail says why). An optional body
    `{"actor", "reason"}` (or the X-Ftwatch-Actor header) goes into the audit log."""
    return await _perform(request, job_id, "pause", body)


@routes.post("/v1/jobs/{job_id}/resume", "Resume a paused job", auth=True, responses=_RESPONSES)
async def resume_job(
    request: web.Request, job_id: JobId, body: ManualRequest | None
) -> ManualResult:
    """`result.outcome` says what came of it: ok, already, skipped, failed or unsupported
    (the job's provider has no such action; the detail says why). An optional body
    `{"actor", "reason"}` (or the X-Ftwatch-Actor header) goes into the audit log."""
    return await _perform(request, job_id, "resume", body)


@routes.post("/v1/jobs/{job_id}/cancel", "Cancel a job", auth=True, responses=_RESPONSES)
async def cancel_job(
    request: web.Request, job_id: JobId, body: ManualRequest | None
) -> ManualResult:
    """`result.outcome` says what came of it: ok, already, skipped, failed or unsupported
    (the job's provider has no such action; the detail says why). An optional body
    `{"actor", "reason"}` (or the X-Ftwatch-Actor header) goes into the audit log."""
    return await _perform(request, job_id, "cancel", body)
