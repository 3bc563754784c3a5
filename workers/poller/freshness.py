"""When a poll must read the job itself, and how many events to ask for first (pure).

A regular poll lists only the job's events (one request). The job is read as well when
its status may have moved: never read yet, a refresh was asked for (an inbound webhook,
or the status sweep over the jobs listing saw a different status), a status in
transition, a status nobody confirmed for too long, or new events that hint at a change.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from service.models.job import JobSnapshot
from service.models.lifecycle import in_motion
from service.store.jobs import JobRecord
from service.upstream.models import Job, JobEvent, JobMethod


def needs_job(record: JobRecord, now_ms: int, stale_ms: int) -> bool:
    """True when this poll must read the job before listing its events."""
    # Never read, pausing, resuming, a status nobody documented: all count as in motion.
    if in_motion(record.snapshot.status) or record.refresh:
        return True
    return record.status_at is None or now_ms - record.status_at > stale_ms


def listed_job(record: JobRecord, now_ms: int, stale_ms: int) -> tuple[Job, int] | None:
    """The job as a recent jobs listing showed it, for a first poll; None if unusable.

    Only before the first poll (no status read yet) and without a refresh request: the
    listing was read before this poll lists events, so the drain ordering still holds.
    """
    if record.listed is None or record.snapshot.ever_read or record.refresh:
        return None
    stamp, _, body = record.listed.partition("|")
    try:
        at_ms = int(stamp)
        job = Job.model_validate_json(body)
    except (ValueError, ValidationError):
        return None
    if now_ms - at_ms > stale_ms or job.id != record.snapshot.job_id:
        return None
    return job, at_ms


def hints_change(events: Sequence[JobEvent]) -> bool:
    """True when new events suggest the status moved (a lifecycle message, a warning).

    Metrics events never do. Checkpoint notices are the one frequent message and say
    nothing about the status; skipping them is a cost choice, not a correctness one: the
    status sweep confirms every status within a discovery interval anyway.
    """
    for event in events:
        if event.level in ("warn", "warning", "error"):
            return True
        if event.type != "metrics" and not event.message.startswith("Checkpoint created"):
            return True
    return False


def job_of(snapshot: JobSnapshot, kind: str = "openai") -> Job:
    """The job as last read (by a provider of `kind`), for a poll that did not read it."""
    raw = snapshot.raw_status
    return Job(
        id=snapshot.job_id,
        # The provider's word as read; never read: ftwatch's own, which OpenAI's table maps.
        status=raw or snapshot.status,
        status_kind=kind if raw else "openai",
        provider_details=dict(snapshot.provider_details),
        model=snapshot.model or "",
        method=JobMethod(type=snapshot.method) if snapshot.method else None,
        metadata=dict(snapshot.metadata) or None,
        fine_tuned_model=snapshot.fine_tuned_model,
    )
