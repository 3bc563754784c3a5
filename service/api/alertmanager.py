"""POST /v1/webhooks/alertmanager: Alertmanager's webhook (version 4) acts on jobs (SPEC §6).

Each firing alert labelled `ftwatch_action` (pause | resume | cancel) and `job_id` (and
`provider` when several providers could have the job) has that action taken once per
alert: its identity is the label set's fingerprint plus `startsAt`, which stay the same
however often Alertmanager re-sends the alert or regroups it. The action executor keeps
the once (an idempotency record per firing and action); the audit log names it done by
`alertmanager:<alertname>`. Resolved alerts, and alerts without those labels, are
acknowledged and ignored: Alertmanager retries only 5xx, so a 4xx is for a payload that
no retry could make usable, and an upstream failure answers 502 to be retried.
"""

from __future__ import annotations

from typing import Literal

import structlog
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from service import keys
from service.api.errors import ApiError
from service.api.jobs import load_snapshot
from service.api.routing import Routes
from service.models.action import ActionName
from service.models.firing import ActionResult
from service.upstream.errors import UpstreamError
from workers.notify.payloads.alertmanager import fingerprint
from workers.rules.firings import facts_of_snapshot

log = structlog.get_logger(__name__)
routes = Routes("webhooks")
ACTION_LABEL = "ftwatch_action"
ACTIONS: frozenset[str] = frozenset({"pause", "resume", "cancel"})
MAX_ALERTS = 1000  # far above one group's alerts; the body size limit applies as well
_REASON_MAX = 500


class AlertmanagerAlert(BaseModel):
    """One alert of the payload; fields other versions add are accepted and ignored."""

    model_config = ConfigDict(extra="allow")
    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: str = Field(min_length=1)  # Alertmanager's field names, camelCase
    endsAt: str | None = None
    fingerprint: str | None = None
    generatorURL: str | None = None


class AlertmanagerWebhook(BaseModel):
    """Alertmanager's webhook payload, version 4 (notify/webhook/webhook.go)."""

    model_config = ConfigDict(extra="allow")
    version: Literal["4"]
    status: Literal["firing", "resolved"] | None = None
    receiver: str | None = None
    groupKey: str | None = None
    alerts: list[AlertmanagerAlert] = Field(max_length=MAX_ALERTS)


class AlertOutcome(BaseModel):
    """What became of one alert: an action's outcome, or why it was ignored."""

    fingerprint: str
    alertname: str | None = None
    status: str
    action: str | None = None
    job_id: str | None = None
    provider: str | None = None
    outcome: (
        str  # ok | already | failed | skipped | unsupported | ignored | not_found | ambiguous_job
    )
    detail: str = ""


class AlertmanagerResult(BaseModel):
    received: int  # alerts in the payload
    acted: int  # actions carried out now (not before, not ignored)
    alerts: list[AlertOutcome]


def _outcome(alert: AlertmanagerAlert, fp: str, outcome: str, detail: str) -> AlertOutcome:
    labels = alert.labels
    return AlertOutcome(
        fingerprint=fp,
        alertname=labels.get("alertname"),
        status=alert.status,
        action=labels.get(ACTION_LABEL),
        job_id=labels.get("job_id"),
        provider=labels.get("provider"),
        outcome=outcome,
        detail=detail,
    )


def _unusable(alert: AlertmanagerAlert) -> str | None:
    """Why this alert asks ftwatch for nothing, or None when it asks for an action."""
    if alert.status != "firing":
        return "resolved: nothing to undo"
    action = alert.labels.get(ACTION_LABEL)
    if not action or not alert.labels.get("job_id"):
        return f"no {ACTION_LABEL} and job_id labels: not for ftwatch"
    if action not in ACTIONS:
        return f"{ACTION_LABEL} {action!r} is not one of pause, resume, cancel"
    return None


def _reason(alert: AlertmanagerAlert, action: str, name: str) -> str:
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    text = f"{action} requested by Alertmanager alert {name}" + (f": {summary}" if summary else "")
    return text[:_REASON_MAX]


async def _act(request: web.Request, alert: AlertmanagerAlert, fp: str) -> AlertOutcome:
    labels = alert.labels
    provider = labels.get("provider")
    given = f"{provider}:{labels['job_id']}" if provider else labels["job_id"]
    try:
        snapshot = await load_snapshot(request, given)
    except ApiError as exc:
        return _outcome(alert, fp, exc.code, exc.message)
    executor = request.app.get(keys.ACTIONS)
    if executor is None:
        raise ApiError(503, "actions_unavailable", "this process cannot perform actions")
    action: ActionName = labels[ACTION_LABEL]  # type: ignore[assignment] # checked in _unusable
    name = labels.get("alertname") or "unnamed"
    try:
        result: ActionResult = await executor.perform(
            facts_of_snapshot(snapshot),
            action,
            # One action per alert: Alertmanager's identity of it, whatever the grouping.
            firing_id=f"alertmanager:{fp}:{alert.startsAt}",
            by=f"alertmanager:{name}",
            reason=_reason(alert, action, name),
        )
    except UpstreamError as exc:
        log.warning("alertmanager_action_failed", job=snapshot.key, action=action, error=str(exc))
        raise ApiError(502, "upstream_error", f"{action} failed: {exc}; retry") from None
    log.info("alertmanager_action", job=snapshot.key, action=action, outcome=result.outcome)
    return _outcome(alert, fp, result.outcome, result.detail)


@routes.post(
    "/v1/webhooks/alertmanager",
    "Receive an Alertmanager webhook: alerts labelled ftwatch_action act on jobs",
    auth=True,
    responses={
        502: ("The upstream failed; Alertmanager retries, and no action is taken twice.", None),
        503: ("Actions are unavailable in this process.", None),
    },
)
async def alertmanager_webhook(
    request: web.Request, body: AlertmanagerWebhook
) -> AlertmanagerResult:
    """Authenticated like every mutating endpoint (`http_config.authorization` sends the
    token). `alerts[].outcome` says what came of each alert."""
    results: list[AlertOutcome] = []
    for alert in body.alerts:
        fp = fingerprint(alert.labels)
        why = _unusable(alert)
        results.append(
            _outcome(alert, fp, "ignored", why) if why else await _act(request, alert, fp)
        )
    acted = sum(1 for r in results if r.outcome == "ok")
    return AlertmanagerResult(received=len(body.alerts), acted=acted, alerts=results)
