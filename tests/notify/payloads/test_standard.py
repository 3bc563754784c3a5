"""The `standard` body: every fact of the firing under {"type", "timestamp", "data"}."""

from __future__ import annotations

import json

from service.models.firing import JobFacts
from tests.notify.samples import (
    CHECKPOINT,
    EXTERNAL_URL,
    FIRED_AT,
    REASON,
    plateau_firing,
    render_json,
)
from workers.notify.payloads import render


def test_envelope_is_type_timestamp_data() -> None:
    body = render_json("standard")
    assert set(body) == {"type", "timestamp", "data"}
    assert body["type"] == "ftwatch.rule.fired"
    assert body["timestamp"] == "2025-11-22T03:00:01.250Z"


def test_data_carries_job_rule_reason_values_actions_and_checkpoint() -> None:
    data = render_json("standard")["data"]
    assert (data["provider"], data["job_id"]) == ("openai", "ftjob-abc123")  # SPEC §6
    assert data["job"] == {
        "provider": "openai",
        "id": "ftjob-abc123",
        "model": "o4-mini-2025-04-16",
        "method": "reinforcement",
        "metadata": {"team": "search", "run": "nightly-7"},
        "status": "running",
        "step": 40,
        "fine_tuned_model": None,
    }
    assert data["rule"] == "reward-plateau"
    assert data["kind"] == "plateau"
    assert data["reason"] == REASON
    assert data["values"] == {"valid_reward_mean": 0.612, "best": 0.615}
    assert data["best"] == {"value": 0.615, "step": 37, "checkpoint": CHECKPOINT}
    assert data["actions"] == [
        {"action": "pause", "outcome": "ok", "detail": "", "at": "2025-11-22T03:00:01.750Z"},
        {"action": "notify:ops", "outcome": "queued", "detail": "", "at": None},
    ]
    assert data["firing_id"] == "fir_0b3c9d2e"
    assert data["event"] == {"id": "ftevent-9f8e7d", "created_at": "2025-11-22T03:00:00.000Z"}
    assert data["url"] == f"{EXTERNAL_URL}/v1/jobs/openai:ftjob-abc123"
    assert data["resolved"] is False
    assert data["summary"].startswith("[reward-plateau] ftjob-abc123")


def test_every_type_is_carried_through() -> None:
    for kind in ("ftwatch.rule.fired", "ftwatch.action.failed", "ftwatch.job.finished"):
        assert render_json("standard", plateau_firing(type=kind))["type"] == kind


def test_unknown_facts_are_null_not_missing() -> None:
    firing = plateau_firing(
        job=JobFacts(id="ftjob-x"), best=None, best_step=None, checkpoint=None, event_id=None
    )
    data = render_json("standard", firing, external_url=None)["data"]
    assert data["best"] == {"value": None, "step": None, "checkpoint": None}
    assert data["job"]["model"] is None
    assert data["job"]["step"] is None
    assert data["url"] is None


def test_body_is_compact_sorted_and_the_same_on_every_retry() -> None:
    first = render("standard", plateau_firing(), now=FIRED_AT + 1).body
    retry = render("standard", plateau_firing(), now=FIRED_AT + 3600).body
    assert first == retry
    canonical = json.dumps(json.loads(first), sort_keys=True, separators=(",", ":"))
    assert first == canonical.encode()


def test_resolve_variant_says_resolved() -> None:
    data = render_json("standard", plateau_firing(resolved=True, actions=[]))["data"]
    assert data["resolved"] is True
    assert data["actions"] == []
