"""Read recorded events (EVENTS.jsonl) for `ftwatch rules backtest`.

One JSON object per line, in the order the events happened (oldest first). A line is
either
- a normalized event (what ftwatch puts on its stream and `GET /v1/jobs/{id}/events`
  returns; recognised by `event_id`), or
- an upstream event as `GET /fine_tuning/jobs/{id}/events` lists it (`id`, `created_at`,
  `type`, `data`, …) plus `job_id`, and optionally the job's `status`, `method`,
  `model` and `metadata`. Without `method`, RFT metrics (rewards, graders) mean
  `reinforcement` and a `train_loss` means `supervised`; without `status` the status
  is unknown.
Blank lines are skipped; a bad line is reported with its number and skipped.
`ftwatch events export` writes the first kind. A page of `GET /v1/jobs/{id}/events`
(one JSON object listing the events newest first, each under `event`, its `created_at`
an ISO-8601 time) is read too; so is such an event on a line of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, NamedTuple

from pydantic import ValidationError

from service.models.event import NormalizedEvent
from service.models.times import epoch_of
from service.upstream.models import Job, JobEvent
from service.upstream.normalize import normalize
from workers.rules.errors import render_validation_error

_JOB_FIELDS = ("job_id", "status", "method", "model", "metadata")


class LoadedEvents(NamedTuple):
    events: list[NormalizedEvent]
    errors: list[str]  # `line 7: …`, one per bad line


def load_events(lines: Iterable[str]) -> LoadedEvents:
    """Every good event of `lines`, and an error naming each bad line."""
    events: list[NormalizedEvent] = []
    errors: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(parse_event_line(line))
        except ValueError as exc:
            errors.append(f"line {number}: {exc}")
    return LoadedEvents(events, errors)


def load_events_text(text: str) -> LoadedEvents:
    """`load_events` of a file's text, or of the events of an API page in it."""
    page = _api_page(text)
    if page is None:
        return load_events(text.splitlines())
    return load_events(json.dumps(_unwrapped(item)) for item in reversed(page))  # oldest first


def _unwrapped(item: Any) -> Any:
    """A page entry's event: the API lists `{"id": <stream id>, "event": {...}}`."""
    if isinstance(item, dict) and isinstance(item.get("event"), dict):
        return item["event"]
    return item


def _api_page(text: str) -> list[Any] | None:
    """The events of a whole-file API page (`{"events": [...]}`), else None."""
    if not text.lstrip().startswith("{"):
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):
        return None  # lines of JSON, or a bad file: the line reader says which line
    if not isinstance(obj, dict) or "event_id" in obj or "job_id" in obj:
        return None
    events = obj.get("data", obj.get("events"))
    return events if isinstance(events, list) else None


def parse_event_line(line: str) -> NormalizedEvent:
    """One line as a NormalizedEvent; ValueError with a short message otherwise."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON: {exc.msg} (column {exc.colno})") from None
    except RecursionError:
        raise ValueError("invalid JSON: nested too deeply") from None
    if not isinstance(obj, dict):
        raise ValueError("expected a JSON object")
    try:
        if "event_id" in obj:
            return NormalizedEvent.model_validate(_epoch_time(obj))
        if "job_id" in obj:
            return _from_upstream(obj)
    except ValidationError as exc:
        raise ValueError("; ".join(render_validation_error(exc)[:3])) from None
    raise ValueError("neither a normalized event (event_id) nor an upstream event with job_id")


def _epoch_time(obj: dict[str, Any]) -> dict[str, Any]:
    """The event with an API's ISO-8601 `created_at` as the unix seconds ftwatch keeps."""
    created = obj.get("created_at")
    if not isinstance(created, str) or created.strip().isdigit():
        return obj
    try:
        return {**obj, "created_at": int(epoch_of(created))}
    except ValueError:
        raise ValueError(f"created_at: {created!r} is neither unix seconds nor ISO-8601") from None


def _from_upstream(obj: dict[str, Any]) -> NormalizedEvent:
    job_id = obj.get("job_id")
    if not isinstance(job_id, str) or not job_id:
        raise ValueError("job_id: must be a non-empty string")
    event = JobEvent.model_validate({k: v for k, v in obj.items() if k not in _JOB_FIELDS})
    method = obj.get("method")
    job = Job.model_validate(
        {
            "id": job_id,
            "status": obj.get("status") or "running",
            "model": obj.get("model") or "",
            "method": {"type": method} if isinstance(method, str) else None,
            "metadata": obj.get("metadata"),
        }
    )
    normalized = normalize(job, event)
    return normalized.model_copy(
        update={
            "status": obj.get("status") if isinstance(obj.get("status"), str) else None,
            "method": method if isinstance(method, str) else _infer_method(normalized.metrics),
        }
    )


def _infer_method(metrics: dict[str, float]) -> str | None:
    if any(k.endswith("reward_mean") or k.startswith("graders.") for k in metrics):
        return "reinforcement"
    if "train_loss" in metrics:
        return "supervised"
    return None
