"""The `pagerduty` format: Events API v2 (`url` is the events base, e.g. events.pagerduty.com).

A rule firing is a `trigger` and its resolve notice a `resolve` with the same `dedup_key`
(POST {url}/v2/enqueue); a job's completion is a Change Event (POST {url}/v2/change/enqueue),
which pages nobody but shows in the service's timeline next to the incidents it explains.
"""

from __future__ import annotations

import json
from typing import Any

from service.models.firing import Firing
from workers.notify.dedup import pagerduty_dedup_key
from workers.notify.message import (
    best_text,
    clip,
    describe_actions,
    one_line,
    severity,
    summary_line,
)
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import EPOCH, iso_time, job_url

SUMMARY_MAX = 1024  # Events API v2 rejects a longer payload.summary
SOURCE_MAX = 255
LINK_TEXT_MAX = 200
EVENTS_PATH = "/v2/enqueue"
CHANGE_PATH = "/v2/change/enqueue"


def is_change(firing: Firing) -> bool:
    """A job's completion: context for on-call (a Change Event), not an alert."""
    return firing.type == "ftwatch.job.finished"


def path(firing: Firing) -> str:
    """Where under the events base this firing goes."""
    return CHANGE_PATH if is_change(firing) else EVENTS_PATH


def details(firing: Firing) -> dict[str, Any]:
    """The facts an on-call engineer reads in the alert (PagerDuty's custom_details)."""
    job = firing.job
    return {
        "provider": job.provider,
        "job_id": job.id,
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
        "model": job.model,
        "method": job.method,
        "fine_tuned_model": job.fine_tuned_model,
        "metadata": dict(job.metadata),
        "dry_run": firing.dry_run,
    }


def _links(firing: Firing, ctx: RenderContext) -> list[dict[str, str]]:
    url = job_url(ctx.external_url, firing.job.key)
    return [{"href": url, "text": f"ftwatch: {clip(firing.job.id, LINK_TEXT_MAX)}"}] if url else []


def _alert(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    job = firing.job
    return {
        "summary": clip(summary_line(firing), SUMMARY_MAX),
        "source": clip(job.id, SOURCE_MAX) or "ftwatch",
        "severity": severity(firing),
        "timestamp": iso_time(firing.fired_at) or EPOCH,
        "component": job.model or "unknown",
        "group": job.method or "unknown",
        "class": firing.kind,
        "custom_details": details(firing),
    }


def _change(firing: Firing, ctx: RenderContext, key: str) -> dict[str, Any]:
    """A Change Event: no event_action, dedup_key or severity (PagerDuty refuses none, but
    ignores them); the summary and details say how the job ended."""
    payload = {
        "summary": clip(summary_line(firing), SUMMARY_MAX),
        "source": clip(firing.job.id, SOURCE_MAX) or "ftwatch",
        "timestamp": iso_time(firing.fired_at) or EPOCH,
        "custom_details": details(firing),
    }
    return {"routing_key": key, "payload": payload, "links": _links(firing, ctx)}


def build(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    """The event; `routing_key` is the receiver's secret (its integration key)."""
    if not ctx.routing_key:
        raise ValueError("pagerduty needs a routing key (the receiver's secret)")
    if is_change(firing):
        return _change(firing, ctx, ctx.routing_key)
    job = firing.job
    event: dict[str, Any] = {
        "routing_key": ctx.routing_key,
        "event_action": "resolve" if firing.resolved else "trigger",
        # Per (job, rule), not per episode: a resolve must close the incident it triggered.
        "dedup_key": pagerduty_dedup_key(job.provider, job.id, firing.rule),
    }
    if firing.resolved:
        return event  # PagerDuty reads nothing else of a resolve
    event.update(client="ftwatch", payload=_alert(firing, ctx), links=_links(firing, ctx))
    url = job_url(ctx.external_url, job.key)
    if url:
        event["client_url"] = url
    return event


def error_message(body: str) -> str | None:
    """PagerDuty's own words from an error body `{status, message, errors[]}`, or None."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("message"), str):
        return None
    errors = data.get("errors")
    listed = [str(e) for e in errors] if isinstance(errors, list) else []
    return one_line(
        ": ".join([data["message"], "; ".join(listed)] if listed else [data["message"]])
    )
