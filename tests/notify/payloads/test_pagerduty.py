"""The `pagerduty` body: an Events API v2 event, trigger on firing and resolve on resolved."""

from __future__ import annotations

import pytest

from tests.notify.samples import (
    CHECKPOINT,
    EXTERNAL_URL,
    FIRED_AT,
    REASON,
    ROUTING_KEY,
    plateau_firing,
    render_json,
)
from workers.notify.dedup import pagerduty_dedup_key
from workers.notify.payloads import render


def test_trigger_event_carries_the_facts() -> None:
    event = render_json("pagerduty")
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == pagerduty_dedup_key("openai:ftjob-abc123", "reward-plateau")
    assert event["client"] == "ftwatch"
    assert event["client_url"] == f"{EXTERNAL_URL}/v1/jobs/openai:ftjob-abc123"
    payload = event["payload"]
    assert payload["summary"].startswith("[reward-plateau] ftjob-abc123")
    assert REASON in payload["summary"]
    assert payload["source"] == "ftjob-abc123"
    assert payload["severity"] == "warning"
    assert payload["timestamp"] == "2025-11-22T03:00:01.250Z"
    assert payload["component"] == "o4-mini-2025-04-16"
    assert payload["group"] == "reinforcement"
    assert payload["class"] == "plateau"
    details = payload["custom_details"]
    assert details["reason"] == REASON
    assert details["values"] == {"valid_reward_mean": 0.612, "best": 0.615}
    assert details["checkpoint"] == CHECKPOINT
    assert details["best_step"] == 37
    assert details["actions"] == "pause ok, notify ops queued"
    assert details["metadata"] == {"team": "search", "run": "nightly-7"}


def test_resolve_matches_the_trigger_of_any_episode() -> None:
    trigger = render_json("pagerduty", plateau_firing(firing_id="fir_episode_1"))
    resolve = render_json(
        "pagerduty", plateau_firing(firing_id="fir_episode_2", resolved=True, actions=[])
    )
    assert resolve["event_action"] == "resolve"
    assert resolve["dedup_key"] == trigger["dedup_key"]


def test_dedup_key_differs_per_job_and_rule() -> None:
    keys = {
        render_json("pagerduty", plateau_firing(rule="a"))["dedup_key"],
        render_json("pagerduty", plateau_firing(rule="b"))["dedup_key"],
        render_json("pagerduty", plateau_firing(job={"id": "ftjob-other"}, rule="a"))["dedup_key"],
    }
    assert len(keys) == 3


def test_summary_fits_pagerduty_limit() -> None:
    event = render_json("pagerduty", plateau_firing(reason="x" * 5000))
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["summary"].endswith("…")


def test_a_routing_key_is_required() -> None:
    with pytest.raises(ValueError, match="routing key"):
        render("pagerduty", plateau_firing(), now=FIRED_AT)
