"""Fold a job and its new events into the snapshot kept for the API and rules (pure)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from service.models.event import NormalizedEvent
from service.models.job import JobSnapshot
from service.models.metrics import merge_bounded
from service.upstream.models import Job


def merge_snapshot(
    previous: JobSnapshot, job: Job, events: Sequence[NormalizedEvent]
) -> JobSnapshot:
    """The latest status from `job`; the latest value of every metric seen so far.

    Metrics keep their last value across events because `valid_*` figures appear only
    on evaluation steps: the latest validation reward is still the latest one.
    """
    metrics, dropped = dict(previous.metrics), previous.metrics_dropped
    step, total, last_at = previous.step, previous.total_steps, previous.last_event_at
    for event in events:
        metrics, refused = merge_bounded(metrics, event.metrics)
        dropped += refused
        if event.step is not None:
            step = event.step
        total_value = event.metrics.get("total_steps")
        if total_value is not None and math.isfinite(total_value):
            total = int(total_value)
        last_at = max(last_at or 0, event.created_at)
    return JobSnapshot(
        job_id=job.id,
        status=job.lifecycle,
        raw_status=job.status,
        provider_details=dict(job.provider_details),
        model=job.model or previous.model,
        method=job.method_type,
        metadata=dict(job.metadata or {}),
        provider=previous.provider,
        step=step,
        total_steps=total,
        metrics=metrics,
        metrics_dropped=dropped,
        last_event_at=last_at,
        fine_tuned_model=job.fine_tuned_model,
    )
