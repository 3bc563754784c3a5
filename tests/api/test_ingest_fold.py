"""Folding ingested events into a job snapshot (pure)."""

from __future__ import annotations

from typing import Any

from service.api.ingest_fold import fold, new_snapshot
from service.api.ingest_schema import IngestEvent


def item(at: int, **fields: Any) -> IngestEvent:
    return IngestEvent.model_validate(
        {"job_id": "trl-1", "event_id": f"e{at}", "created_at": at, **fields}
    )


def test_metrics_from_data_and_explicit_metrics() -> None:
    data = {"step": 4, "train_loss": 0.5, "scores": {"train_reward_mean": 0.2}}
    snapshot, [event] = fold(
        new_snapshot("trl-1"), [item(10, type="metrics", data=data, metrics={"train_loss": 0.4})]
    )
    assert event.metrics == {"step": 4.0, "train_loss": 0.4, "train_reward_mean": 0.2}
    assert event.provider == "ingest"
    assert (snapshot.step, snapshot.last_event_at) == (4, 10)
    assert snapshot.metrics == {"train_loss": 0.4, "train_reward_mean": 0.2}


def test_job_facts_carry_forward_and_older_events_do_not_roll_back() -> None:
    first, _ = fold(
        new_snapshot("trl-1"),
        [
            item(10, method="dpo", metadata={"team": "x"}, metrics={"step": 7}),
        ],
    )
    later, events = fold(
        first,
        [
            item(5, status="failed", metrics={"step": 2}),
            item(11, metrics={"valid_loss": 1.0}),
        ],
    )
    assert [e.method for e in events] == ["dpo", "dpo"]
    assert [e.metadata for e in events] == [{"team": "x"}, {"team": "x"}]
    assert events[0].status == "failed"  # the event says what it says ...
    assert later.status == "running"  # ... but an older event does not change the job
    assert later.step == 7
    assert later.metrics == {"valid_loss": 1.0}
    assert later.provider == "ingest"


def test_a_status_change_is_told_by_a_status_event_before_the_event() -> None:
    first, _ = fold(new_snapshot("trl-1"), [item(10, metrics={"step": 1})])
    paused = first.model_copy(update={"status": "paused"})  # the trainer acked a pause
    later, events = fold(paused, [item(20, status="running"), item(21), item(22)])
    assert [(e.type, e.event_id) for e in events] == [
        ("status", "ftwatch-status-e20"),
        ("message", "e20"),
        ("message", "e21"),
        ("message", "e22"),
    ]
    assert events[0].data == {"from": "paused", "to": "running"}
    assert later.status == "running"
    # A job's first event sets its status without a change to tell.
    _, fresh = fold(new_snapshot("trl-1"), [item(1, status="queued")])
    assert [e.type for e in fresh] == ["message"]
