"""The `pagerduty` format: an Events API v2 event (trigger on firing, resolve on resolved)."""

from __future__ import annotations

from typing import Any

from service.models.firing import Firing
from workers.notify.dedup import pagerduty_dedup_key
from workers.notify.message import best_text, clip, describe_actions, severity, summary_line
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import EPOCH, iso_time, job_url

SUMMARY_MAX = 1024  # Events API v2 rejects a longer payload.summary
SOURCE_MAX = 255


def _details(firing: Firing) -> dict[str, Any]:
    job = firing.job
    return {
        "firing_id": firing.firing_id,
        "rule": firing.rule,
        "reason": firing.reason,
        "values": dict(firing.values),
        "best": best_text(firing),
        "best_value": firing.best,
        "best_step": firing.best_step,
        "checkpoint": firing.checkpoint,
        "actions": describe_actions(firing.actions),
        "job_status": job.status,
        "step": job.step,
        "metadata": dict(job.metadata),
        "dry_run": firing.dry_run,
    }


def build(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    """The event; `routing_key` is the receiver's secret (its integration key)."""
    if not ctx.routing_key:
        raise ValueError("pagerduty needs a routing key (the receiver's secret)")
    job = firing.job
    event: dict[str, Any] = {
        "routing_key": ctx.routing_key,
        "event_action": "resolve" if firing.resolved else "trigger",
        # Per (job, rule), not per episode: a resolve must close the incident it triggered.
        "dedup_key": pagerduty_dedup_key(job.key, firing.rule),
        "client": "ftwatch",
        "payload": {
            "summary": clip(summary_line(firing), SUMMARY_MAX),
            "source": clip(job.id, SOURCE_MAX) or "ftwatch",
            "severity": severity(firing),
            "timestamp": iso_time(firing.fired_at) or EPOCH,
            "component": job.model or "unknown",
            "group": job.method or "unknown",
            "class": firing.kind,
            "custom_details": _details(firing),
        },
    }
    url = job_url(ctx.external_url, job.key)
    if url:
        event["client_url"] = url
        event["links"] = [{"href": url, "text": f"ftwatch: {clip(job.id, 200)}"}]
    return event
