"""Together AI's JSON turned into the shapes ftwatch reads (providers.md §2). Pure.

Together's events have no ids and carry no losses; its losses come from a time series
keyed `train/loss`, `eval/loss`, ... by `train/global_step`. So a job's cursor is two
positions: the newest event time (with the keys of the events at that instant) and the
last global step (with the keys of the rows at that step), each key a hash of the item.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from service.models.lifecycle import is_terminal, of_kind
from service.models.metrics import to_float
from service.upstream.errors import describe_invalid, snippet
from service.upstream.models import Checkpoint, Detail, Job, JobEvent, JobMethod
from service.upstream.pages import RejectedEvent

KIND = "together"
STEP_KEY = "train/global_step"
# Together's own fields a job view shows (providers.md §2.3); no ftwatch field holds them.
DETAILS = ("early_stopped", "early_stopping_best_step", "early_stopping_best_metric")
# Metric key prefixes and the flat names rules use (SPEC §4.2: eval is `valid_`).
_PREFIXES = (("train/", "train_"), ("eval/", "valid_"))
_LEVELS = {"legacy_info": "info", "legacy_iwarning": "warning", "legacy_ierror": "error"}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow")


class WireJob(_Lenient):
    """A `FinetuneResponse` or list item: only `id` and `status` are relied on."""

    id: str
    status: str
    model: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    model_output_name: str | None = None
    training_method: dict[str, Any] | None = None


class WireEvent(_Lenient):
    """A `FinetuneEvent`: no id; `created_at` an ISO-8601 string."""

    created_at: str
    type: str
    message: str = ""
    level: str | None = None
    step: int | None = None
    total_steps: int | None = None


def epoch(text: str | None) -> float | None:
    """Unix seconds of an ISO-8601 time (`Z` or an offset); None if absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None


def job_from(raw: Any) -> Job:
    """ftwatch's Job for Together's job JSON; raises ValueError for a shape without id/status."""
    wire = WireJob.model_validate(raw)
    done = is_terminal(of_kind(KIND, wire.status))
    method = (wire.training_method or {}).get("method")
    return Job(
        id=wire.id,
        status=wire.status,
        model=wire.model or "",
        created_at=int(epoch(wire.created_at) or 0),
        finished_at=int(epoch(wire.updated_at) or 0) or None if done else None,
        fine_tuned_model=wire.model_output_name if wire.status == "completed" else None,
        method=JobMethod(type="dpo" if method == "dpo" else "supervised"),
        status_kind=KIND,
        provider_details=_details(raw),
    )


def _details(raw: Mapping[str, Any]) -> dict[str, Detail]:
    return {k: raw[k] for k in DETAILS if isinstance(raw.get(k), str | bool | int | float)}


@dataclass(frozen=True)
class Listing:
    """`GET /v1/fine-tunes`: every job, newest first, and what was wrong with the others."""

    jobs: list[Job]
    rejected: list[str]


def jobs_from(payload: Any) -> Listing:
    """Every readable job, newest first (the API does not say its order); one job that
    cannot be read is skipped and named, not the whole listing lost."""
    jobs, rejected = [], []
    for position, item in enumerate(_data(payload)):
        try:
            jobs.append(job_from(item))
        except ValidationError as exc:
            rejected.append(f"data[{position}]: {describe_invalid(exc)}")
    jobs.sort(key=lambda j: (j.created_at, j.id), reverse=True)
    return Listing(jobs, rejected)


def _data(payload: Any, name: str = "data") -> list[Any]:
    items = payload.get(name) if isinstance(payload, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"expected an object with a `{name}` list")
    return items


def checkpoint_name(job_id: str, step: int, label: str) -> str:
    """`{job_id}:{step}` for an intermediate checkpoint, `{job_id}` for the final model
    (the names Together's CLI gives them, valid as `from_checkpoint`)."""
    return f"{job_id}:{step}" if "intermediate" in label.lower() else job_id


def checkpoints_from(job_id: str, payload: Any) -> list[Checkpoint]:
    """The job's checkpoints, newest step first."""
    found = []
    for item in _data(payload):
        step, label = int(item["step"]), str(item.get("checkpoint_type", ""))
        name = checkpoint_name(job_id, step, label)
        at = int(epoch(item.get("created_at")) or 0)
        found.append(
            Checkpoint(
                id=name,
                created_at=at,
                fine_tuned_model_checkpoint=name,
                fine_tuning_job_id=job_id,
                step_number=step,
            )
        )
    return sorted(found, key=lambda c: c.step_number, reverse=True)


# -- the cursor ------------------------------------------------------------------------
@dataclass(frozen=True)
class Cursor:
    """Where a job's reads stand: event time and step, with the keys seen exactly there."""

    at: float = float("-inf")
    at_keys: tuple[str, ...] = ()
    step: int = -1
    step_keys: tuple[str, ...] = ()

    def encode(self) -> str:
        at = None if self.at == float("-inf") else self.at
        return json.dumps(
            {"at": at, "ak": self.at_keys, "s": self.step, "sk": self.step_keys},
            separators=(",", ":"),
        )


def decode_cursor(text: str | None) -> Cursor:
    """The stored cursor; none, or one unreadable (written by something else): the start."""
    try:
        raw = json.loads(text or "")
        at = float("-inf") if raw["at"] is None else float(raw["at"])
        return Cursor(at, tuple(raw["ak"]), int(raw["s"]), tuple(raw["sk"]))
    except (ValueError, TypeError, KeyError):
        return Cursor()


def _text(item: Any) -> str:
    return snippet(json.dumps(item, default=repr, ensure_ascii=False))


def _key(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- events ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Seen:
    """One listing's unseen items (oldest first), its rejects, and the cursor after it."""

    events: list[JobEvent]
    rejected: list[RejectedEvent]
    cursor: Cursor


def _event(wire: WireEvent, at: float, key: str) -> JobEvent:
    data: dict[str, Any] = {}
    if wire.step is not None:
        data["step"] = wire.step
    if wire.total_steps is not None:
        data["total_steps"] = wire.total_steps
    level = (wire.level or "info").lower()
    return JobEvent(
        id=f"tg-e-{key}",
        created_at=int(at),
        level=_LEVELS.get(level, level),
        message=wire.message,
        type=wire.type.lower(),  # live casing is unverified (providers.md §2.4)
        data=data or None,
    )


def _parsed_events(
    data: list[Any],
) -> tuple[list[tuple[float, str, WireEvent]], list[RejectedEvent]]:
    good, rejected = [], []
    for position, item in enumerate(data):
        try:
            wire = WireEvent.model_validate(item)
        except ValidationError as exc:
            rejected.append(RejectedEvent(position, None, describe_invalid(exc), _text(item)))
            continue
        at = epoch(wire.created_at)
        if at is None:
            error = f"created_at: not an ISO-8601 time: {wire.created_at!r}"
            rejected.append(RejectedEvent(position, None, error, _text(item)))
            continue
        good.append((at, _key(wire.created_at, wire.type, wire.message, wire.step), wire))
    return good, rejected


def new_events(payload: Any, cursor: Cursor) -> Seen:
    """Events after `cursor`, oldest first, each once: dedup key (created_at, type,
    message, step) (providers.md §2.4). The listing holds every event (no paging)."""
    good, rejected = _parsed_events(_data(payload))
    good.sort(key=lambda item: item[0])  # stable: equal times keep the listing's order
    fresh = [
        _event(wire, at, key)
        for at, key, wire in good
        if at > cursor.at or (at == cursor.at and key not in cursor.at_keys)
    ]
    newest = max([cursor.at, *(at for at, _, _ in good)])
    keys = {key for at, key, _ in good if at == newest}
    if newest == cursor.at:
        keys |= set(cursor.at_keys)
    moved = Cursor(newest, tuple(sorted(keys)), cursor.step, cursor.step_keys)
    return Seen(fresh, rejected, moved)


def events_listing(payload: Any) -> Any:
    """The events answer as it came, once its envelope is known good (else ValueError,
    which the client reports as a malformed body and retries)."""
    _data(payload)
    return payload


# -- metrics -----------------------------------------------------------------------------
def flat_name(key: str) -> str | None:
    """`train/loss` → `train_loss`, `eval/loss` → `valid_loss` (SPEC §4.2); others None."""
    for prefix, flat in _PREFIXES:
        if key.startswith(prefix) and key != STEP_KEY:
            return flat + key[len(prefix) :].replace("/", "_")
    return None


def metric_data(row: Mapping[str, Any], step: int) -> dict[str, Any]:
    """`data` of the metrics event of one row: the step, flat names, and the raw keys."""
    data: dict[str, Any] = {"step": step}
    for key, value in row.items():
        flat = flat_name(key)
        if flat is not None:
            data[flat] = value
        if key != STEP_KEY:
            data[key] = value
    return data


def _message(step: int, data: Mapping[str, Any]) -> str:
    parts = [f"{name}={data[name]}" for name in ("train_loss", "valid_loss") if name in data]
    return f"Step {step}: {', '.join(parts) or 'metrics'}"


def _row_step(row: Any) -> int | None:
    if not isinstance(row, dict):
        return None
    step = to_float(row.get(STEP_KEY))
    return int(step) if step is not None and math.isfinite(step) else None


def new_metrics(payload: Any, cursor: Cursor, now: float) -> Seen:
    """Rows at or after the cursor's step not seen yet, as `metrics` events, in order.

    Rows at the cursor's own step are re-read (an eval row can land after the train row
    of its step) and kept apart by their keys. `now` stamps them: rows carry no time.
    """
    fresh, rejected, seen = [], [], {(cursor.step, k) for k in cursor.step_keys}
    for position, row in enumerate(_rows(payload)):
        row_step = _row_step(row)
        if row_step is None:
            error = f"{STEP_KEY}: missing or not a number"
            rejected.append(RejectedEvent(position, None, error, _text(row)))
            continue
        key = _key(row)
        if row_step < cursor.step or (row_step, key) in seen:
            continue
        seen.add((row_step, key))
        fresh.append(_metrics_event(row, row_step, key, now))
    step = max((s for s, _ in seen), default=cursor.step)
    keys = tuple(sorted(k for s, k in seen if s == step))
    return Seen(fresh, rejected, Cursor(cursor.at, cursor.at_keys, step, keys))


def _rows(payload: Any) -> Iterable[Any]:
    # `metrics` is optional in the SDK's model: absent means no points yet.
    if isinstance(payload, dict) and payload.get("metrics") is None:
        return []
    return _data(payload, "metrics")


def metrics_listing(payload: Any) -> Any:
    """The metrics answer as it came, once its envelope is known good (else ValueError)."""
    _rows(payload)
    return payload


def _metrics_event(row: Mapping[str, Any], step: int, key: str, now: float) -> JobEvent:
    data = metric_data(row, step)
    return JobEvent(
        id=f"tg-m-{step}-{key}",
        created_at=int(now),
        type="metrics",
        message=_message(step, data),
        data=data,
    )
