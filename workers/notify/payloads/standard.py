"""The `standard` format: a Standard Webhooks body `{"type", "timestamp", "data"}`."""

from __future__ import annotations

from typing import Any

from service.models.firing import ActionResult, Firing
from workers.notify.message import summary_line
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import EPOCH, iso_time, job_url


def _action(result: ActionResult) -> dict[str, Any]:
    return {
        "action": result.action,
        "outcome": result.outcome,
        "detail": result.detail,
        "at": iso_time(result.at),
    }


def _job(firing: Firing) -> dict[str, Any]:
    job = firing.job
    return {
        "provider": job.provider,
        "id": job.id,
        "model": job.model,
        "method": job.method,
        "metadata": dict(job.metadata),
        "status": job.status,
        "step": job.step,
        "fine_tuned_model": job.fine_tuned_model,
    }


def build(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    """The body; `timestamp` is when the rule fired (the event), not when it is delivered."""
    # Every key is always present (null when unknown): consumers get one stable schema.
    data = {
        "firing_id": firing.firing_id,
        "provider": firing.job.provider,
        "job_id": firing.job.id,
        "rule": firing.rule,
        "kind": firing.kind,
        "resolved": firing.resolved,
        "dry_run": firing.dry_run,
        "summary": summary_line(firing),
        "reason": firing.reason,
        "job": _job(firing),
        "values": dict(firing.values),
        "best": {"value": firing.best, "step": firing.best_step, "checkpoint": firing.checkpoint},
        "actions": [_action(a) for a in firing.actions],
        "event": {"id": firing.event_id, "created_at": iso_time(firing.event_created_at)},
        "fired_at": iso_time(firing.fired_at),
        "url": job_url(ctx.external_url, firing.job.key),
    }
    return {"type": firing.type, "timestamp": iso_time(firing.fired_at) or EPOCH, "data": data}
