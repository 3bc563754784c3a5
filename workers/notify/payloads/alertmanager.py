"""The `alertmanager` format: ftwatch as an alert producer, `POST {url}/api/v2/alerts`.

The body is a JSON array of Alertmanager's `postableAlert`. The labels are the alert's
identity (the same for a firing, its re-sends and its resolve); what changes between
them (values, step, best checkpoint, actions) is in the annotations.
"""

from __future__ import annotations

from typing import Any

from service.models.firing import Firing
from workers.notify.message import description, headline
from workers.notify.payloads.context import RenderContext
from workers.notify.payloads.encoding import iso_time, job_url

API_PATH = "/api/v2/alerts"
DEFAULT_SEVERITY = "warning"
# A firing's explicit `endsAt` lies this far ahead, as Prometheus does (4 times its re-send
# interval): three missed re-sends in a row, and only then Alertmanager resolves it.
FIRING_VALIDITY = 240.0
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
    """The alert's identity (SPEC §6); empty values are left out, as Alertmanager drops them."""
    job = firing.job
    labels = {
        "alertname": firing.rule,
        "rule": firing.rule,
        "provider": job.provider,
        "job_id": job.id,
        "severity": firing.severity or DEFAULT_SEVERITY,
    }
    return {name: value for name, value in labels.items() if value}


def alert_of(firing: Firing, ctx: RenderContext) -> dict[str, Any]:
    """The alert without `endsAt`: what a re-send repeats (service/store/active_alerts.py)."""
    alert: dict[str, Any] = {
        "labels": labels_of(firing),
        "annotations": {"summary": headline(firing), "description": description(firing)},
        "startsAt": iso_time(firing.fired_at) or iso_time(ctx.now),
    }
    url = job_url(ctx.external_url, firing.job.key)
    if url:  # a non-URI generatorURL is refused (422): better none
        alert["generatorURL"] = url
    return alert


def ends_at(firing: Firing, now: float) -> float:
    """When the alert ends: at the resolve notice, else a while after `now` (see above)."""
    return firing.fired_at if firing.resolved else now + FIRING_VALIDITY


def build(firing: Firing, ctx: RenderContext) -> list[dict[str, Any]]:
    """The body of one firing or resolve: an array with its one alert."""
    alert = alert_of(firing, ctx)
    alert["endsAt"] = iso_time(ends_at(firing, ctx.now))
    return [alert]
