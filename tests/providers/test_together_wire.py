"""Together's JSON read without ids: dedup keys, the two-part cursor, flat metric names."""

from __future__ import annotations

import math
from typing import Any

import pytest

from service.models.lifecycle import of_kind
from service.models.metrics import flatten_metrics
from service.providers import together_wire as wire

T0 = "2026-11-02T10:00:00Z"
T1 = "2026-11-02T10:00:01.500Z"
AT0 = 1_793_613_600  # T0 in unix seconds


def _event(at: str, type_: str = "checkpoint_save", message: str = "m", **extra: Any) -> Any:
    return {
        "object": "fine-tune-event",
        "created_at": at,
        "type": type_,
        "message": message,
    } | extra


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        ("pending", "queued"),
        ("queued", "queued"),
        ("running", "running"),
        ("compressing", "running"),
        ("uploading", "running"),
        ("cancel_requested", "cancelled"),
        ("cancelled", "cancelled"),
        ("completed", "succeeded"),
        ("error", "failed"),
        ("user_error", "failed"),
        ("paused", "unknown"),  # not a Together word: nobody mapped it
    ],
)
def test_togethers_statuses_map_onto_ftwatchs_lifecycle(raw: str, status: str) -> None:
    assert of_kind("together", raw) == status
    assert wire.job_from({"id": "ft-1", "status": raw}).lifecycle == status


def test_a_job_keeps_its_raw_status_times_method_and_early_stopping() -> None:
    job = wire.job_from(
        {
            "id": "ft-1",
            "status": "completed",
            "user_id": "u",
            "created_at": T0,
            "updated_at": T1,
            "model_output_name": "me/model-ft-1",
            "training_method": {"method": "dpo"},
            "early_stopped": True,
            "early_stopping_best_step": 40,
            "early_stopping_best_metric": 0.81,
            "progress": {"estimate_available": False, "seconds_remaining": 0},
        }
    )
    assert (job.status, job.created_at, job.finished_at) == (
        "completed",
        AT0,
        AT0 + 1,
    )
    assert (job.method_type, job.fine_tuned_model) == ("dpo", "me/model-ft-1")
    assert job.provider_details == {
        "early_stopped": True,
        "early_stopping_best_step": 40,
        "early_stopping_best_metric": 0.81,
    }


def test_one_unreadable_job_is_named_and_the_listing_kept() -> None:
    listing = wire.jobs_from(
        {
            "data": [
                {"id": "ft-old", "status": "running", "created_at": T0},
                {"status": "x"},
                {"id": "ft-new", "status": "queued", "created_at": T1},
            ]
        }
    )
    assert [j.id for j in listing.jobs] == ["ft-new", "ft-old"]  # newest first
    assert len(listing.rejected) == 1 and listing.rejected[0].startswith("data[1]: id")


def test_events_without_ids_arrive_once_even_at_the_same_instant() -> None:
    first = wire.new_events(
        {"data": [_event(T0, message="a"), _event(T0, message="a")]}, wire.Cursor()
    )
    assert [e.message for e in first.events] == ["a", "a"]  # listed twice: two, same id
    assert first.events[0].id == first.events[1].id  # the store keeps one
    later = [_event(T0, message="a"), _event(T0, message="b"), _event(T1, message="c")]
    cursor = wire.decode_cursor(first.cursor.encode())  # as stored between polls
    second = wire.new_events({"data": later[::-1]}, cursor)  # order undocumented
    assert [e.message for e in second.events] == ["b", "c"]
    again = wire.new_events({"data": later}, wire.decode_cursor(second.cursor.encode()))
    assert again.events == []


def test_an_unreadable_event_is_rejected_with_its_place() -> None:
    found = wire.new_events(
        {"data": [_event(T0), {"type": "x"}, _event("yesterday"), 7]}, wire.Cursor()
    )
    assert len(found.events) == 1
    assert [r.position for r in found.rejected] == [1, 2, 3]
    assert "created_at" in found.rejected[1].error


def test_event_fields_become_ftwatchs() -> None:
    event = _event(T1, "TRAINING_START", "go", level="legacy_iwarning", step=0, total_steps=300)
    (read,) = wire.new_events({"data": [event]}, wire.Cursor()).events
    assert (read.type, read.level, read.created_at) == ("training_start", "warning", AT0 + 1)
    assert read.data == {"step": 0, "total_steps": 300}


def test_metric_names_are_flat_and_the_raw_keys_kept() -> None:
    rows = {
        "metrics": [
            {"train/loss": 1.2, "train/learning_rate": 1e-05, "train/global_step": 7},
            {"eval/loss": 1.3, "train/global_step": 7},
        ]
    }
    train, evals = wire.new_metrics(rows, wire.Cursor(), now=100.0).events
    assert flatten_metrics(train.data) == {
        "step": 7.0,
        "train_loss": 1.2,
        "train/loss": 1.2,
        "train_learning_rate": 1e-05,
        "train/learning_rate": 1e-05,
    }
    assert flatten_metrics(evals.data) == {"step": 7.0, "valid_loss": 1.3, "eval/loss": 1.3}
    assert train.type == "metrics" and train.created_at == 100


def test_an_eval_row_landing_after_its_steps_train_row_is_not_lost() -> None:
    step7 = {"train/loss": 1.2, "train/global_step": 7}
    first = wire.new_metrics({"metrics": [step7]}, wire.Cursor(), now=1.0)
    cursor = wire.decode_cursor(first.cursor.encode())
    assert cursor.step == 7
    late = {"eval/loss": 1.3, "train/global_step": 7}
    # The next read starts at step 7 again: the train row is known, the eval row new.
    second = wire.new_metrics(
        {"metrics": [step7, late, {"train/loss": 1.1, "train/global_step": 8}]}, cursor, now=2.0
    )
    assert [(e.data or {}).get("valid_loss") for e in second.events] == [1.3, None]
    assert wire.decode_cursor(second.cursor.encode()).step == 8


def test_nan_losses_pass_and_rows_without_a_step_are_rejected() -> None:
    rows = {"metrics": [{"train/loss": math.nan, "train/global_step": 3}, {"train/loss": 1.0}]}
    found = wire.new_metrics(rows, wire.Cursor(), now=0.0)
    (event,) = found.events
    assert math.isnan(flatten_metrics(event.data)["train_loss"])
    assert [r.position for r in found.rejected] == [1]
    assert wire.new_metrics({"metrics": None}, wire.Cursor(), now=0.0).events == []


def test_a_cursor_it_did_not_write_starts_over() -> None:
    assert wire.decode_cursor("ftevent-abc") == wire.Cursor()
    assert wire.decode_cursor(None) == wire.Cursor()


def test_checkpoints_are_named_as_togethers_cli_names_them() -> None:
    found = wire.checkpoints_from(
        "ft-1",
        {
            "data": [
                {
                    "checkpoint_type": "Intermediate",
                    "created_at": T0,
                    "path": "s3://a",
                    "step": 100,
                },
                {"checkpoint_type": "Final", "created_at": T1, "path": "s3://b", "step": 300},
            ]
        },
    )
    assert [(c.id, c.step_number) for c in found] == [("ft-1", 300), ("ft-1:100", 100)]


def test_a_broken_envelope_is_a_value_error_the_client_reports_as_malformed() -> None:
    with pytest.raises(ValueError, match="`data` list"):
        wire.events_listing({"error": "proxy page"})
    with pytest.raises(ValueError, match="`metrics` list"):
        wire.metrics_listing({"metrics": "none"})
    assert wire.metrics_listing({}) == {}  # no points yet
