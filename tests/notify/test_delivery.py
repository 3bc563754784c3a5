"""Delivery ids and attempt records: stable across retries, distinct per message."""

from __future__ import annotations

import json

from service.models.firing import ActionResult
from tests.notify.samples import plateau_firing
from workers.notify.delivery import (
    Attempt,
    attempts_json,
    dead_letter_json,
    delivery_id,
    parse_attempts,
)
from workers.notify.signing import webhook_id


def test_a_firing_keeps_the_webhook_id_of_its_firing_id_and_receiver() -> None:
    firing = plateau_firing()
    assert delivery_id(firing, "ops") == webhook_id(firing.firing_id, "ops")
    assert delivery_id(firing, "ops") != delivery_id(firing, "pager")


def test_each_notice_of_one_firing_is_its_own_message() -> None:
    fired = plateau_firing()
    pause_failed = fired.model_copy(
        update={
            "type": "ftwatch.action.failed",
            "actions": [ActionResult(action="pause", outcome="failed")],
        }
    )
    resume_failed = fired.model_copy(
        update={
            "type": "ftwatch.action.failed",
            "actions": [ActionResult(action="resume", outcome="failed")],
        }
    )
    resolved = fired.model_copy(update={"resolved": True})
    ids = {delivery_id(f, "ops") for f in (fired, pause_failed, resume_failed, resolved)}
    assert len(ids) == 4
    # ... yet the same notice always gets the same id (a retry, a replay, a redelivery).
    assert delivery_id(pause_failed.model_copy(), "ops") == delivery_id(pause_failed, "ops")


def test_attempts_round_trip_in_the_dead_letter_shape() -> None:
    attempts = (
        Attempt(at=1.5, duration=0.25, status=503, detail="busy", retry_after=2.0),
        Attempt(at=9.0, duration=3.0, error="timeout after 3s"),
    )
    stored = json.loads(attempts_json(attempts))
    assert stored == [
        {"at": 1.5, "duration": 0.25, "status": 503, "detail": "busy", "retry_after": 2.0},
        {"at": 9.0, "duration": 3.0, "error": "timeout after 3s"},
    ]
    assert parse_attempts(attempts_json(attempts)) == attempts


def test_an_unreadable_history_reads_as_no_attempts_yet() -> None:
    assert parse_attempts("not json") == ()
    assert parse_attempts('{"a": 1}') == ()
    assert parse_attempts("[7]")[0].error == "unreadable attempt record"


def test_the_dead_letter_names_the_message_the_receiver_and_why() -> None:
    firing = plateau_firing()
    record = json.loads(
        dead_letter_json(
            "msg_1",
            "ops",
            firing.model_dump_json(),
            (Attempt(at=1.0, duration=0.1, status=410),),
            reason="HTTP 410 is not retried",
            since=0.5,
        )
    )
    assert record["id"] == "msg_1"
    assert record["receiver"] == "ops"
    assert record["firing"]["firing_id"] == firing.firing_id
    assert record["attempts"] == [{"at": 1.0, "duration": 0.1, "status": 410}]
    assert record["reason"] == "HTTP 410 is not retried"
