"""Decisions sent back to self-hosted trainers (SPEC §7, §10): long-poll and ack.

A rule's pause or cancel of an ingested job becomes a pending decision (the action
executor records it). The trainer reads it here or in the ingest reply, acts, and acks
it; the ack moves the job to `paused` / `cancelled` with a `status` event, so its rules
go on as for a polled job. Both routes take FTWATCH_INGEST_TOKEN (ingested jobs only)
as well as FTWATCH_API_TOKEN.
"""

from __future__ import annotations

import time

import structlog
from aiohttp import web

from service import keys
from service.api.auth import INGEST_ONLY, SCOPE
from service.api.errors import ApiError
from service.api.ingest import set_status
from service.api.ingest_fold import ingest_key
from service.api.routing import Routes
from service.api.schemas import AckBody, AckResult, DecisionQuery, DecisionView, JobId, view_of
from service.models.audit import action_record
from service.models.decision import Decision, DecisionAck
from service.models.firing import ActionResult, Firing
from service.models.ident import INGEST_PROVIDER, PROVIDER_NAME
from service.models.job import JobSnapshot
from service.models.lifecycle import Status
from service.store.audit import AuditLog
from service.store.decisions import Acked, UnknownDecision
from service.store.effects import Effects
from workers.rules.firings import facts_of_snapshot

log = structlog.get_logger(__name__)
routes = Routes("decisions")
DecisionId = JobId  # the same safe path-segment alphabet
_STATUS_AFTER: dict[str, Status] = {"pause": "paused", "cancel": "cancelled"}
_RESPONSES = {
    403: ("Wrong token, or the ingest token asked about a job that is not ingested.", None),
}


async def ingested_job(request: web.Request, given: str) -> JobSnapshot:
    """The ingested job `given` names (`<id>` or `ingest:<id>`); only those have decisions."""
    candidates = [ingest_key(given)]
    if given.startswith(f"{INGEST_PROVIDER}:"):
        candidates.append(given)
    found = await request.app[keys.JOBS].snapshots(candidates)
    if found:
        return found[0]
    provider, sep, _ = given.partition(":")
    if sep and PROVIDER_NAME.fullmatch(provider) and request.get(SCOPE) == "ingest":
        raise ApiError(403, "forbidden", INGEST_ONLY)
    raise ApiError(
        404,
        "job_not_found",
        f"ftwatch knows no ingested job {given!r}: decisions exist only for jobs whose "
        "trainer pushes events to /v1/ingest/events (the first batch creates the job)",
    )


@routes.get(
    "/v1/jobs/{job_id}/decision",
    "The pending decision of an ingested job (long-poll with `wait`)",
    auth=True,
    ingest=True,
    response=DecisionView,
    responses={204: ("No decision is pending (after waiting up to `wait` s).", None)} | _RESPONSES,
)
async def get_decision(
    request: web.Request, job_id: JobId, query: DecisionQuery
) -> DecisionView | web.Response:
    """200 with the oldest decision the trainer has not acked, at once if there is one;
    else waits up to `wait` seconds for one and answers 204 without a body. The same
    decision (same `id`) is answered until it is acked. Takes FTWATCH_INGEST_TOKEN (for
    ingested jobs) or FTWATCH_API_TOKEN."""
    snapshot = await ingested_job(request, job_id)
    log.debug("decision_wait", job=snapshot.key, wait=query.wait)
    found = await request.app[keys.DECISIONS].wait(snapshot.key, query.wait)
    if found is None:
        return web.Response(status=204)
    return view_of(DecisionView, found)


@routes.post(
    "/v1/jobs/{job_id}/decision/{decision_id}/ack",
    "Report what the trainer did with a decision",
    auth=True,
    ingest=True,
    responses=_RESPONSES,
)
async def ack_decision(
    request: web.Request, job_id: JobId, decision_id: DecisionId, body: AckBody
) -> AckResult:
    """`outcome: done` moves the job to `paused` (a pause) or `cancelled` (a cancel);
    `failed` leaves its status. Both are recorded in the audit log. A decision is acted on
    once: a repeated ack changes nothing and answers the first (`duplicate: true`).
    Takes FTWATCH_INGEST_TOKEN (for ingested jobs) or FTWATCH_API_TOKEN."""
    snapshot = await ingested_job(request, job_id)
    ack = DecisionAck(**body.model_dump(), at=time.time())
    try:
        acked = await request.app[keys.DECISIONS].ack(snapshot.key, decision_id, ack)
    except UnknownDecision:
        raise ApiError(
            404,
            "decision_not_found",
            f"job {snapshot.key!r} has no decision {decision_id!r}: ack the `id` of a decision "
            "from GET /v1/jobs/{job_id}/decision or the ingest reply",
        ) from None
    if _applies(snapshot, acked):
        before, snapshot = snapshot, await _apply(request, snapshot, acked.decision)
        if acked.first or snapshot.status != before.status:
            await _audit(request, snapshot, acked)
    return AckResult(
        provider=snapshot.provider,
        job_id=snapshot.job_id,
        status=snapshot.status,
        decision=view_of(DecisionView, acked.decision),
        duplicate=not acked.first,
    )


def _applies(snapshot: JobSnapshot, acked: Acked) -> bool:
    """The first ack; or a repeat while nothing was written to the job since the first, whose
    request may have been cut short between storing the ack and moving the job (never
    later: a restarted trainer's job must not be paused again by a stale retry)."""
    ack = acked.decision.ack
    return acked.first or (ack is not None and snapshot.updated_at <= ack.at)


async def _apply(request: web.Request, snapshot: JobSnapshot, decision: Decision) -> JobSnapshot:
    """The job after the first ack: paused / cancelled when the trainer did it."""
    if decision.ack is None or decision.ack.outcome != "done":
        return snapshot
    return await set_status(
        request,
        snapshot,
        _STATUS_AFTER[decision.action],
        event_id=f"ftwatch-decision-{decision.id}",
        why=f"the trainer acked decision {decision.id} ({decision.rule})",
    )


async def _audit(request: web.Request, snapshot: JobSnapshot, acked: Acked) -> None:
    """The ack in the audit log, beside the firing that made the decision."""
    decision, ack = acked.decision, acked.decision.ack
    assert ack is not None  # an Acked decision carries its ack
    outcome = "ok" if ack.outcome == "done" else "failed"
    detail = f"trainer acked decision {decision.id}: {ack.outcome}"
    record = Firing(
        firing_id=decision.firing_id,
        type="ftwatch.rule.fired" if outcome == "ok" else "ftwatch.action.failed",
        rule=decision.rule,
        kind="ack",
        job=facts_of_snapshot(snapshot),
        reason=decision.reason,
        best=decision.best_value,
        best_step=decision.best_step,
        checkpoint=ack.checkpoint,
        actions=[
            ActionResult(
                action=decision.action,
                outcome=outcome,
                detail=f"{detail}; {ack.message}" if ack.message else detail,
                at=ack.at,
            )
        ],
        fired_at=ack.at,
        stage="action",
    )
    # The firing that made the decision is on the audit log already: the ack names it.
    audit = AuditLog(request.app[keys.REDIS])
    await audit.record_action(action_record(record, record.actions[0], ack.checkpoint))
    request.app[keys.METRICS].actions.labels(decision.action, outcome).inc()
    if outcome == "failed":  # as a failed upstream action is (workers/actions/executor.py)
        effects = Effects(request.app[keys.REDIS], request.app[keys.SCRIPTS])
        for receiver in acked.notify:
            await effects.deliver(snapshot.key, receiver, record.model_dump_json())
    log.info("decision_acked", job=snapshot.key, decision=decision.id, outcome=ack.outcome)
