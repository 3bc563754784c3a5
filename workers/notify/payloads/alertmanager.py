"""The `alertmanager` format: Alertmanager's webhook payload, version 4, with one alert."""

from __future__ import annotations

from typing import Any

from service.models.firing import Firing
from workers.notify.message import description, headline, severity
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import EPOCH, ZERO_TIME, iso_time, job_url

# prometheus/common model.LabelSet.Fingerprint: FNV-1a 64 over sorted names and values,
# each followed by a 0xFF separator byte; matching it lets tooling correlate alerts.
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


def fingerprint(labels: dict[str, str]) -> str:
    """The label set's fingerprint exactly as Alertmanager prints it (16 hex digits)."""
    digest = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode("utf-8", "surrogatepass"):
                digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
            digest = ((digest ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


def labels_of(firing: Firing) -> dict[str, str]:
    """The alert's identity: the same for a firing and its resolve, unknown parts left out."""
    job = firing.job
    labels = {
        "alertname": firing.rule,
        "provider": job.provider,
        "job_id": job.id,
        "rule": firing.rule,
        "severity": severity(firing),
    }
    if job.model:
        labels["model"] = job.model
    if job.method:
        labels["method"] = job.method
    return labels


def _quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _group_key(group: dict[str, str]) -> str:
    matchers = ", ".join(f"{name}={_quote(value)}" for name, value in sorted(group.items()))
    return "{}:{" + matchers + "}"


def build(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    """The webhook body; `receiver` is the ftwatch receiver's name."""
    status = "resolved" if firing.resolved else "firing"
    labels = labels_of(firing)
    annotations = {"summary": headline(firing), "description": description(firing)}
    fired_at = iso_time(firing.fired_at) or EPOCH
    alert = {
        "status": status,
        "labels": labels,
        "annotations": annotations,
        "startsAt": fired_at,
        # A resolve notice is sent when the condition cleared, so that moment ends it.
        "endsAt": fired_at if firing.resolved else ZERO_TIME,
        "generatorURL": job_url(ctx.external_url, firing.job.key) or "",
        "fingerprint": fingerprint(labels),
    }
    group = {"alertname": firing.rule, "provider": firing.job.provider, "job_id": firing.job.id}
    return {
        "version": "4",
        "groupKey": _group_key(group),
        "truncatedAlerts": 0,
        "status": status,
        "receiver": ctx.receiver,
        "groupLabels": group,
        # One alert per message: all its labels and annotations are common.
        "commonLabels": dict(labels),
        "commonAnnotations": dict(annotations),
        "externalURL": ctx.external_url or "",
        "alerts": [alert],
    }
