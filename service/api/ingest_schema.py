"""The body of POST /v1/ingest/events: events of self-hosted jobs in the normalized shape."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, WithJsonSchema, field_validator

from service.api.schemas import DecisionView, JobId, Strict
from service.models.lifecycle import StatusName
from service.models.metrics import flatten_metrics
from service.models.times import epoch_of

MAX_BATCH = 500
# Deeper than any metrics payload; bounds the work of storing and rendering `data`.
MAX_DEPTH = 16
# Each metric name becomes a per-job Prometheus series: keep one event's share small.
MAX_METRICS = 256

Name = Annotated[str, Field(min_length=1, max_length=256)]
# OpenAI's limits on job metadata: 16 pairs, keys up to 64 and values up to 512 characters.
MetaKey = Annotated[str, Field(max_length=64)]
MetaValue = Annotated[str, Field(max_length=512)]
LAST_SECOND = 4_102_444_800  # 2100-01-01: a later time is a mistake (milliseconds, say)


def _seconds(value: Any) -> Any:
    """An ISO-8601 time as unix seconds (whole ones, as an event's time is kept)."""
    if not isinstance(value, str) or value.strip().isdigit():  # "1764576000" as before
        return value
    try:
        return int(epoch_of(value))
    except ValueError:
        raise ValueError(
            "give unix seconds or an ISO-8601 time with its zone (2026-12-01T08:00:00Z)"
        ) from None


EventTime = Annotated[
    int,
    BeforeValidator(_seconds),
    Field(ge=0, le=LAST_SECOND),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": LAST_SECOND},
                {"type": "string", "format": "date-time"},
            ],
            "description": "When it happened: unix seconds, or an ISO-8601 time with its zone.",
        }
    ),
]


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        if level > MAX_DEPTH:
            break
        children = node.values() if isinstance(node, dict) else node
        stack += [(c, level + 1) for c in children if isinstance(c, dict | list)]
    return deepest


class IngestEvent(Strict):
    """One event of a job ftwatch does not poll (a TRL or verl loop, say).

    `type: metrics` events carry the step's figures in `data` like OpenAI's
    (`{"step": 12, "train_loss": 0.41, "scores": {...}}`) or directly in `metrics`.
    Job facts (method, model, metadata, status) may come on any event; later events
    keep them.
    """

    job_id: JobId
    event_id: Name  # unique per job: a repeated id is stored once
    created_at: EventTime
    level: Literal["info", "warn", "error"] = "info"
    type: Literal["message", "metrics"] = "message"
    message: str = Field(default="", max_length=16_384)
    data: dict[str, Any] | None = None
    metrics: dict[Name, float] = Field(default_factory=dict)
    method: Literal["supervised", "dpo", "reinforcement"] | None = None
    model: Annotated[str, Field(max_length=256)] | None = None
    metadata: dict[MetaKey, MetaValue] = Field(default_factory=dict, max_length=16)
    # ftwatch's lifecycle names; OpenAI's older ones (validating_files, pending) are mapped.
    status: StatusName | None = None

    @field_validator("data")
    @classmethod
    def _data(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and _depth(value) > MAX_DEPTH:
            raise ValueError(f"nests deeper than {MAX_DEPTH} levels")
        try:
            count = len(flatten_metrics(value))
        except OverflowError:  # an integer beyond float range (JSON allows any size)
            raise ValueError("holds a number too large for a metric") from None
        if count > MAX_METRICS:
            raise ValueError(f"holds more than {MAX_METRICS} metrics")
        return value

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, value: dict[str, float]) -> dict[str, float]:
        if len(value) > MAX_METRICS:
            raise ValueError(f"more than {MAX_METRICS} metrics")
        return value


class IngestBatch(Strict):
    events: list[IngestEvent] = Field(min_length=1, max_length=MAX_BATCH)


class BatchShape(Strict):
    """The batch's outer shape, checked before its events are (cheap: no event is parsed)."""

    events: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class IngestResult(Strict):
    accepted: int  # new events appended to the stream
    duplicates: int  # events whose id was already stored (a retried batch)
    jobs: list[str]
    decisions: list[DecisionView] = Field(
        default_factory=list,
        description="The pending (unacknowledged) decisions of the batch's jobs, oldest "
        "first: the trainer acts on each and acks it. Repeated until acked.",
    )
