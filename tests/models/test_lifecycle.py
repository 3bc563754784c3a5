"""ftwatch's lifecycle: OpenAI's mapping, the predicates, and records of older versions."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from service.models.event import EventFacts
from service.models.lifecycle import (
    OPENAI,
    STATUSES,
    RecordedStatus,
    Status,
    StatusName,
    from_openai,
    in_motion,
    is_idle,
    is_terminal,
    lifecycle,
    named,
    pointless,
    reached,
    recorded,
    was_resumed,
)

OPENAI_TABLE = [
    ("validating_files", "validating"),
    ("queued", "queued"),
    ("pending", "queued"),
    ("running", "running"),
    ("pausing", "pausing"),
    ("paused", "paused"),
    ("resuming", "resuming"),
    ("succeeded", "succeeded"),
    ("failed", "failed"),
    ("cancelled", "cancelled"),
]


@pytest.mark.parametrize(("raw", "status"), OPENAI_TABLE)
def test_every_openai_status_has_its_lifecycle_status(raw: str, status: Status) -> None:
    assert from_openai(raw) == status


def test_the_openai_table_is_exactly_the_documented_statuses() -> None:
    assert sorted(OPENAI) == sorted(raw for raw, _ in OPENAI_TABLE)
    assert set(OPENAI.values()) == set(STATUSES) - {"unknown"}


@pytest.mark.parametrize("raw", ["defrosting", "", "Running", "validating", "unknown "])
def test_a_raw_status_nobody_mapped_is_unknown(raw: str) -> None:
    assert from_openai(raw) == "unknown"


def test_another_provider_brings_its_own_table() -> None:
    together: dict[str, Status] = {"completed": "succeeded", "user_error": "failed"}
    assert lifecycle("completed", together) == "succeeded"
    assert lifecycle("user_error", together) == "failed"
    assert lifecycle("succeeded", together) == "unknown"  # OpenAI's word, not Together's


def test_names_people_write_include_openais_older_ones() -> None:
    assert named("validating_files") == "validating"
    assert named("pending") == "queued"
    assert named("paused") == "paused"
    assert named("unknown") == "unknown"
    assert named("done") is None


class _Stored(BaseModel):
    status: RecordedStatus | None = None


class _Written(BaseModel):
    status: StatusName


def test_stored_statuses_are_mapped_never_rejected() -> None:
    assert _Stored.model_validate({"status": "validating_files"}).status == "validating"
    assert _Stored.model_validate({"status": "defrosting"}).status == "unknown"
    assert _Stored.model_validate({}).status is None
    assert recorded(None) == "unknown"
    # A stream entry of an older version carries OpenAI's status.
    event = EventFacts.model_validate_json(
        '{"job_id": "j", "event_id": "e", "created_at": 1, "status": "pending"}'
    )
    assert event.status == "queued"


def test_written_statuses_are_mapped_or_refused_with_the_known_names() -> None:
    assert _Written.model_validate({"status": "pending"}).status == "queued"
    with pytest.raises(ValidationError, match=r"unknown status 'done' \(known: validating, "):
        _Written.model_validate({"status": "done"})


def test_terminal_idle_and_in_motion() -> None:
    assert [s for s in STATUSES if is_terminal(s)] == ["succeeded", "failed", "cancelled"]
    assert [s for s in STATUSES if is_idle(s)] == ["validating", "queued", "paused"]
    moving = [s for s in STATUSES if in_motion(s)]
    assert moving == ["pausing", "resuming", "succeeded", "failed", "cancelled", "unknown"]
    assert not is_terminal(None)


@pytest.mark.parametrize(
    ("old", "new", "resumed"),
    [
        ("paused", "running", True),
        ("paused", "queued", True),
        ("paused", "resuming", True),
        ("paused", "unknown", True),
        ("paused", "pausing", False),
        ("paused", "cancelled", False),  # finishing is no resume
        ("running", "running", False),
        (None, "running", False),
    ],
)
def test_was_resumed(old: Status | None, new: Status, resumed: bool) -> None:
    assert was_resumed(old, new) is resumed


def test_an_action_already_reached_or_pointless() -> None:
    assert reached("pause", "pausing") and reached("pause", "paused")
    assert reached("resume", "validating") and not reached("resume", "paused")
    assert reached("cancel", "cancelled") and not reached("cancel", "failed")
    assert pointless("pause", "running") is None
    assert pointless("resume", "paused") is None
    assert pointless("cancel", "queued") is None
    assert pointless("pause", "queued") == "job is queued, not running"
    assert pointless("resume", "running") == "job is running, not paused"
    assert pointless("cancel", "succeeded") == "job already succeeded"
