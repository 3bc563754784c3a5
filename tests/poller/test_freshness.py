"""When a poll reads the job itself, and how many events it asks for first."""

from __future__ import annotations

import pytest

from service.models.job import JobSnapshot
from service.models.lifecycle import Status
from service.providers.openai import first_page_limit
from service.store.jobs import JobRecord
from service.upstream.models import JobEvent
from workers.poller.freshness import (
    hints_change,
    job_of,
    listed_job,
    needs_job,
)

NOW = 1_000_000
STALE = 90_000


def record(
    status: Status = "running",
    *,
    raw: str | None = None,
    refresh: str | None = None,
    age: int | None = 0,
) -> JobRecord:
    return JobRecord(
        snapshot=JobSnapshot(job_id="j", status=status, raw_status=raw or status),
        cursor="ev-1",
        done=False,
        refresh=refresh,
        status_at=None if age is None else NOW - age,
    )


def test_a_steady_recently_confirmed_job_is_not_read() -> None:
    assert not needs_job(record("running"), NOW, STALE)
    assert not needs_job(record("queued"), NOW, STALE)


@pytest.mark.parametrize(
    "rec",
    [
        # never read
        JobRecord(snapshot=JobSnapshot(job_id="j"), cursor=None, done=False, status_at=NOW),
        record(refresh="1"),  # a webhook or the sweep asked
        record("pausing"),  # in motion
        record("unknown", raw="brand_new_status"),  # a status nobody mapped
        record(age=None),  # never confirmed
        record(age=STALE + 1),  # not confirmed for too long
    ],
)
def test_a_job_whose_status_may_have_moved_is_read(rec: JobRecord) -> None:
    assert needs_job(rec, NOW, STALE)


def ev(type_: str = "metrics", message: str = "", level: str = "info") -> JobEvent:
    return JobEvent(id="e", created_at=1, type=type_, message=message, level=level)


def test_metrics_and_checkpoint_notices_do_not_hint_at_a_change() -> None:
    quiet = [ev(), ev("message", "Checkpoint created at step 5 with Snapshot ID: ft:x")]
    assert not hints_change(quiet)
    assert not hints_change([])


@pytest.mark.parametrize(
    "event",
    [
        ev("message", "The job has successfully completed"),
        ev("message", "Fine-tuning job paused at step 3"),
        ev(level="error"),
    ],
)
def test_lifecycle_messages_and_errors_hint_at_a_change(event: JobEvent) -> None:
    assert hints_change([ev(), event])


def test_first_pages_are_sized_from_the_last_poll() -> None:
    assert first_page_limit(None, 3) == 100  # first poll: everything
    assert first_page_limit("c", None) == 100  # nothing remembered
    assert first_page_limit("c", 0) == 10
    assert first_page_limit("c", 12) == 29
    assert first_page_limit("c", 500) == 100


def test_the_job_as_last_read_normalizes_events_like_the_job_itself() -> None:
    snap = JobSnapshot(
        job_id="j", status="running", model="m", method="reinforcement", metadata={"t": "x"}
    )
    job = job_of(snap)
    assert (job.id, job.status, job.model, job.method_type, job.metadata) == (
        "j",
        "running",
        "m",
        "reinforcement",
        {"t": "x"},
    )
    assert job_of(JobSnapshot(job_id="k")).method_type == "supervised"


def _first(listed: str | None, *, refresh: str | None = None) -> JobRecord:
    return JobRecord(
        snapshot=JobSnapshot(job_id="j"), cursor=None, done=False, refresh=refresh, listed=listed
    )


def test_a_first_poll_uses_the_job_a_recent_listing_showed() -> None:
    found = listed_job(_first(f'{NOW - 5}|{{"id": "j", "status": "queued"}}'), NOW, STALE)
    assert found is not None
    job, at = found
    assert (job.status, at) == ("queued", NOW - 5)


@pytest.mark.parametrize(
    "rec",
    [
        _first(None),
        _first(f'{NOW - STALE - 1}|{{"id": "j", "status": "queued"}}'),  # too old
        _first(f'{NOW}|{{"id": "other", "status": "queued"}}'),  # not this job
        _first(f"{NOW}|not json"),
        _first(f'{NOW}|{{"id": "j", "status": "queued"}}', refresh="1"),  # asked to read it
    ],
)
def test_an_unusable_listing_means_reading_the_job(rec: JobRecord) -> None:
    assert listed_job(rec, NOW, STALE) is None


def test_a_polled_job_ignores_listings() -> None:
    rec = JobRecord(
        snapshot=JobSnapshot(job_id="j", status="running"),
        cursor="c",
        done=False,
        listed=f'{NOW}|{{"id": "j", "status": "queued"}}',
    )
    assert listed_job(rec, NOW, STALE) is None
