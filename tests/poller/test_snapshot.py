"""Folding events into the job snapshot."""

from __future__ import annotations

import math

from service.models.job import JobSnapshot
from service.models.metrics import MAX_SNAPSHOT_METRICS
from service.upstream.models import Job, JobEvent
from service.upstream.normalize import normalize
from workers.poller.snapshot import merge_snapshot

JOB = Job.model_validate(
    {
        "id": "ftjob-1",
        "status": "running",
        "model": "o4-mini",
        "method": {"type": "reinforcement"},
        "metadata": {"team": "search"},
    }
)


def metrics_event(n: int, data: dict[str, object]) -> JobEvent:
    return JobEvent(id=f"ev-{n}", created_at=1000 + n, type="metrics", data=data)


def test_latest_values_persist_across_steps_without_validation() -> None:
    events = [
        normalize(
            JOB,
            metrics_event(
                1,
                {
                    "step": 1,
                    "total_steps": 20,
                    "scores": {"train_reward_mean": 0.1, "valid_reward_mean": 0.3},
                },
            ),
        ),
        normalize(JOB, metrics_event(2, {"step": 2, "scores": {"train_reward_mean": 0.2}})),
    ]
    snap = merge_snapshot(JobSnapshot(job_id="ftjob-1"), JOB, events)
    assert snap.step == 2
    assert snap.total_steps == 20
    assert snap.metrics == {"train_reward_mean": 0.2, "valid_reward_mean": 0.3}
    assert snap.last_event_at == 1002
    assert (snap.status, snap.method, snap.metadata) == (
        "running",
        "reinforcement",
        {"team": "search"},
    )


def test_non_finite_values_are_kept_and_message_events_change_nothing() -> None:
    events = [
        normalize(JOB, metrics_event(1, {"step": 7, "train_loss": "NaN", "total_steps": "inf"})),
        normalize(JOB, JobEvent(id="m", created_at=1, data=None)),
    ]
    snap = merge_snapshot(JobSnapshot(job_id="ftjob-1", step=6), JOB, events)
    assert snap.step == 7
    assert math.isnan(snap.metrics["train_loss"])
    assert snap.total_steps is None


def test_a_flood_of_names_is_kept_to_the_cap_and_counted() -> None:
    job = Job(id="j", status="running", model="m")
    first: dict[str, object] = {"step": 1}
    first |= {f"a{n}": 1.0 for n in range(MAX_SNAPSHOT_METRICS - 1)}
    flood: dict[str, object] = {"step": 2, "a0": 2.0}
    flood |= {f"b{n}": 1.0 for n in range(10)}
    events = [normalize(job, metrics_event(1, first)), normalize(job, metrics_event(2, flood))]
    snap = merge_snapshot(JobSnapshot(job_id="j"), job, events)
    assert len(snap.metrics) == MAX_SNAPSHOT_METRICS
    assert snap.metrics["a0"] == 2.0 and snap.metrics["b0"] == 1.0  # known names still update
    assert "b1" not in snap.metrics and snap.metrics_dropped == 9
