"""Normalizing upstream events and flattening their metrics."""

from __future__ import annotations

import math

from service.models.event import NormalizedEvent
from service.models.metrics import flatten_metrics
from service.upstream.models import Job, JobEvent
from service.upstream.normalize import normalize

RFT_DATA = {
    "step": 10,
    "total_steps": 20,
    "scores": {
        "train_reward_mean": 0.42,
        "valid_reward_mean": 0.675,
        "graders": [{"name": "g1", "type": "score_model", "train_reward_mean": 0.447}],
    },
    "errors": {
        "graders": [
            {
                "name": "g1",
                "type": "score_model",
                "train_sample_parse_error_mean": 0.1,
                "train_other_error_count": 3.0,
            }
        ]
    },
    "usage": {"samples": {"train_reasoning_tokens_mean": 3330.0}},
}


def test_rft_metrics_flatten_to_leaf_names_and_grader_paths() -> None:
    flat = flatten_metrics(RFT_DATA)
    assert flat["step"] == 10
    assert flat["train_reward_mean"] == 0.42
    assert flat["valid_reward_mean"] == 0.675
    assert flat["graders.g1.train_reward_mean"] == 0.447
    assert flat["graders.g1.train_sample_parse_error_mean"] == 0.1
    assert flat["graders.g1.train_other_error_count"] == 3.0
    assert not any(k.startswith("usage") for k in flat)


def test_sft_metrics_and_strings_for_non_finite_values() -> None:
    flat = flatten_metrics(
        {
            "step": 3,
            "train_loss": "NaN",
            "valid_loss": "-Infinity",
            "train_mean_token_accuracy": True,
            "note": "x",
        }
    )
    assert flat["step"] == 3
    assert math.isnan(flat["train_loss"])
    assert flat["valid_loss"] == -math.inf
    assert "train_mean_token_accuracy" not in flat and "note" not in flat


def test_grader_without_name_gets_a_positional_label() -> None:
    flat = flatten_metrics({"scores": {"graders": [{"train_reward_mean": 1}, "junk"]}})
    assert flat == {"graders.grader0.train_reward_mean": 1.0}


def test_message_event_with_null_data_normalizes() -> None:
    job = Job.model_validate({"id": "j", "status": "pausing", "model": "gpt-4o-mini"})
    event = normalize(
        job,
        JobEvent.model_validate(
            {
                "id": "e",
                "created_at": 5,
                "level": "info",
                "message": "Fine tuning job started",
                "type": "message",
                "data": None,
                "object": "fine_tuning.job.event",
            }
        ),
    )
    assert event.data is None and event.metrics == {}
    assert event.method == "supervised" and event.status == "pausing"


def test_nan_survives_the_stream_round_trip() -> None:
    job = Job.model_validate({"id": "j", "status": "running"})
    event = normalize(
        job, JobEvent(id="e", created_at=1, type="metrics", data={"train_loss": float("nan")})
    )
    back = NormalizedEvent.model_validate_json(event.model_dump_json())
    assert math.isnan(back.metrics["train_loss"])


def test_huge_messages_are_truncated() -> None:
    job = Job.model_validate({"id": "j", "status": "running"})
    event = normalize(job, JobEvent(id="e", created_at=1, message="x" * 100_000))
    assert len(event.message) <= 16_384


def test_integers_beyond_float_range_are_not_metrics() -> None:
    assert flatten_metrics({"step": 10**400, "train_loss": 0.5}) == {"train_loss": 0.5}
