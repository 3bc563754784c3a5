from __future__ import annotations

import json
import math

from tests.rules.factories import event
from workers.rules.events_file import load_events

UPSTREAM_RFT = {
    "object": "fine_tuning.job.event",
    "id": "ftevent-1",
    "created_at": 1_700_000_000,
    "level": "info",
    "message": "Step 10/100",
    "type": "metrics",
    "data": {
        "step": 10,
        "scores": {"valid_reward_mean": 0.5, "graders": [{"name": "g", "train_reward_mean": 0.4}]},
        "errors": {"graders": [{"name": "g", "train_other_error_mean": 0.1}]},
    },
    "job_id": "ftjob-rft",
}


def test_normalized_and_upstream_lines_are_both_read_in_order() -> None:
    normalized = event(3, job="ftjob-sft", method="supervised", train_loss=math.nan)
    sft_line = (
        '{"job_id": "ftjob-b", "id": "e2", "created_at": 5, "status": "running",'
        ' "data": {"step": 1, "train_loss": NaN}, "metadata": {"team": "x"}}'
    )
    loaded = load_events(
        [normalized.model_dump_json(), "", json.dumps(UPSTREAM_RFT), "   \n", sft_line]
    )
    assert loaded.errors == []
    first, rft, sft = loaded.events
    assert first.event_id == normalized.event_id and math.isnan(first.metrics["train_loss"])
    assert rft.job_id == "ftjob-rft"
    assert rft.metrics["valid_reward_mean"] == 0.5
    assert rft.metrics["graders.g.train_other_error_mean"] == 0.1
    assert rft.method == "reinforcement"  # inferred from rewards and graders
    assert rft.status is None  # not given: unknown
    assert sft.method == "supervised" and sft.status == "running"
    assert sft.metadata == {"team": "x"}
    assert math.isnan(sft.metrics["train_loss"])


def test_bad_lines_are_reported_with_their_number_and_skipped() -> None:
    lines = [
        "{not json",
        "[1, 2]",
        '{"hello": 1}',
        '{"event_id": "e", "job_id": "j", "created_at": -1}',
        '{"job_id": "", "id": "x", "created_at": 1}',
        '{"job_id": "j", "created_at": 1}',
        json.dumps({**UPSTREAM_RFT, "method": "dpo"}),
    ]
    loaded = load_events(lines)
    assert [e.method for e in loaded.events] == ["dpo"]
    assert loaded.errors == [
        "line 1: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        "line 2: expected a JSON object",
        "line 3: neither a normalized event (event_id) nor an upstream event with job_id",
        "line 4: created_at: must be >= 0",
        "line 5: job_id: must be a non-empty string",
        "line 6: id: required",
    ]
