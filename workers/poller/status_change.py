"""A synthetic `status` event when a job's status changed between two polls (pure).

The upstream emits no event for pause or resume, and a job can finish without a new
event; rules (completion, re-arming after a resume) still need to see it, in order.
"""

from __future__ import annotations

from service.models.event import STATUS_EVENT, NormalizedEvent
from service.models.job import JobSnapshot
from service.upstream.models import Job


def status_change(job: Job, previous: JobSnapshot, now: float) -> NormalizedEvent | None:
    """The event saying `previous.status` became `job`'s, or None when unchanged.

    Lifecycle statuses are compared: a raw change that means the same (`pending` to
    `queued`) is no change a rule could see.
    """
    status = job.lifecycle
    if status == previous.status:
        return None
    # The id depends only on what every replica reads (the stored snapshot), so two
    # replicas racing on one job produce the same id and the append keeps one.
    stamp = int(previous.updated_at * 1000)
    return NormalizedEvent(
        job_id=job.id,
        event_id=f"ftwatch-status-{stamp}-{status}"[:256],
        created_at=int(now),
        level="info",
        type=STATUS_EVENT,
        message=f"status changed from {previous.status} to {status}",
        data={"from": previous.status, "to": status},
        method=job.method_type,
        model=job.model or None,
        metadata=dict(job.metadata or {}),
        status=status,
        provider=previous.provider,
    )
