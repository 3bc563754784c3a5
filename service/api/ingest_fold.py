"""Turn ingested events into normalized events and fold them into the job snapshot (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from service.api.ingest_schema import IngestEvent
from service.models.event import STATUS_EVENT, NormalizedEvent
from service.models.ident import INGEST_PROVIDER, job_key
from service.models.job import JobSnapshot
from service.models.lifecycle import Status
from service.models.metrics import flatten_metrics, merge_bounded


def ingest_key(job_id: str) -> str:
    """Ingested jobs belong to the built-in provider `ingest`: never a polled job's key."""
    return job_key(INGEST_PROVIDER, job_id)


def new_snapshot(job_id: str) -> JobSnapshot:
    """A job seen for the first time: a trainer that posts events is running."""
    return JobSnapshot(job_id=job_id, status="running", provider=INGEST_PROVIDER)


def event_metrics(item: IngestEvent) -> dict[str, float]:
    """Flattened `data` plus explicit `metrics` (which win on a name clash)."""
    return flatten_metrics(item.data) | item.metrics


def _counter(metrics: dict[str, float], name: str, previous: int | None) -> int | None:
    value = metrics.get(name)
    return int(value) if value is not None and math.isfinite(value) else previous


def _advance(snapshot: JobSnapshot, item: IngestEvent, metrics: dict[str, float]) -> JobSnapshot:
    """The snapshot after `item`, which is not older than anything the snapshot saw."""
    merged, refused = merge_bounded(snapshot.metrics, metrics)
    return snapshot.model_copy(
        update={
            "status": item.status or snapshot.status,
            "method": item.method or snapshot.method,
            "model": item.model or snapshot.model,
            "metadata": item.metadata or snapshot.metadata,
            "step": _counter(metrics, "step", snapshot.step),
            "total_steps": _counter(metrics, "total_steps", snapshot.total_steps),
            "metrics": merged,
            "metrics_dropped": snapshot.metrics_dropped + refused,
            "last_event_at": item.created_at,
        }
    )


def fold(
    previous: JobSnapshot, items: Sequence[IngestEvent]
) -> tuple[JobSnapshot, list[NormalizedEvent]]:
    """The job's new snapshot and the normalized events, in the order given; an event
    that changes the status is preceded by a `status` event saying so.

    An event older than the snapshot's latest (a late retry of an earlier batch) is still
    stored, but does not roll the snapshot back to older values.
    """
    snapshot = previous
    events: list[NormalizedEvent] = []
    for item in items:
        metrics = event_metrics(item)
        if item.created_at >= (snapshot.last_event_at or 0):
            before, snapshot = snapshot, _advance(snapshot, item, metrics)
            events += _changed(before, snapshot, item)
        events.append(
            NormalizedEvent(
                job_id=item.job_id,
                event_id=item.event_id,
                created_at=item.created_at,
                level=item.level,
                type=item.type,
                message=item.message,
                data=item.data,
                method=item.method or snapshot.method,
                model=item.model or snapshot.model,
                metadata=item.metadata or snapshot.metadata,
                status=item.status or snapshot.status,
                provider=INGEST_PROVIDER,
                metrics=metrics,
            )
        )
    return snapshot, events


def _changed(before: JobSnapshot, after: JobSnapshot, item: IngestEvent) -> list[NormalizedEvent]:
    """A `status` event when `item` changed a known job's status (a restarted trainer
    says `running`), so resolve notices and re-arming see it as for a polled job."""
    if after.status == before.status or before.last_event_at is None:
        return []
    _, event = status_change(
        before,
        after.status,
        event_id=f"ftwatch-status-{item.event_id}",
        now=item.created_at,
        why="the trainer said so",
    )
    return [event]


def status_change(
    previous: JobSnapshot, status: Status, *, event_id: str, now: float, why: str
) -> tuple[JobSnapshot, NormalizedEvent]:
    """The snapshot in `status` and the `status` event that tells the rules, as a poll would
    (workers/poller/status_change.py): re-arming and resolve notices read it."""
    event = NormalizedEvent(
        job_id=previous.job_id,
        event_id=event_id[:256],
        created_at=max(int(now), previous.last_event_at or 0),
        type=STATUS_EVENT,
        message=f"status changed from {previous.status} to {status}: {why}"[:16_384],
        data={"from": previous.status, "to": status},
        method=previous.method,
        model=previous.model,
        metadata=previous.metadata,
        status=status,
        provider=INGEST_PROVIDER,
    )
    return previous.model_copy(update={"status": status}), event
