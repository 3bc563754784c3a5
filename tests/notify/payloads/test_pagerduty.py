"""The `pagerduty` body: Events API v2 trigger/resolve per (job, rule), Change Events."""

from __future__ import annotations

import pytest

from service.models.firing import JobFacts
from tests.notify.samples import (
    CHECKPOINT,
    EXTERNAL_URL,
    FIRED_AT,
    REASON,
    ROUTING_KEY,
    plateau_firing,
    render_json,
)
from workers.notify.payloads import error_detail, render

JOB_URL = f"{EXTERNAL_URL}/v1/jobs/openai:ftjob-abc123"


def test_trigger_event_carries_the_facts() -> None:
    event = render_json("pagerduty", plateau_firing(severity="critical"))
    assert event["routing_key"] == ROUTING_KEY
    assert event["event_action"] == "trigger"
    assert event["dedup_key"] == "ftwatch:openai:ftjob-abc123:reward-plateau"
    assert event["client"] == "ftwatch"
    assert event["client_url"] == JOB_URL
    assert event["links"] == [{"href": JOB_URL, "text": "ftwatch: ftjob-abc123"}]
    payload = event["payload"]
    assert payload["summary"].startswith("[reward-plateau] ftjob-abc123")
    assert REASON in payload["summary"]
    assert payload["source"] == "ftjob-abc123"
    assert payload["severity"] == "critical"  # the rule's
    assert payload["timestamp"] == "2025-11-22T03:00:01.250Z"
    assert payload["component"] == "o4-mini-2025-04-16"
    assert payload["group"] == "reinforcement"
    assert payload["class"] == "plateau"
    details = payload["custom_details"]
    assert (details["provider"], details["job_id"]) == ("openai", "ftjob-abc123")
    assert details["reason"] == REASON
    assert details["values"] == {"valid_reward_mean": 0.612, "best": 0.615}
    assert details["checkpoint"] == CHECKPOINT
    assert details["best_step"] == 37
    assert details["actions"] == "pause ok, notify ops queued"
    assert details["metadata"] == {"team": "search", "run": "nightly-7"}


def test_resolve_matches_the_trigger_of_any_episode_and_says_nothing_else() -> None:
    trigger = render_json("pagerduty", plateau_firing(firing_id="fir_episode_1"))
    resolve = render_json(
        "pagerduty", plateau_firing(firing_id="fir_episode_2", resolved=True, actions=[])
    )
    assert resolve == {
        "routing_key": ROUTING_KEY,
        "event_action": "resolve",
        "dedup_key": trigger["dedup_key"],
    }


def test_dedup_key_differs_per_provider_job_and_rule() -> None:
    keys = {
        render_json("pagerduty", plateau_firing(rule="a"))["dedup_key"],
        render_json("pagerduty", plateau_firing(rule="b"))["dedup_key"],
        render_json("pagerduty", plateau_firing(job=JobFacts(id="ftjob-other"), rule="a"))[
            "dedup_key"
        ],
        render_json(
            "pagerduty", plateau_firing(job=JobFacts(id="ftjob-abc123", provider="az"), rule="a")
        )["dedup_key"],
    }
    assert len(keys) == 4


def test_a_job_completion_is_a_change_event_posted_to_its_own_path() -> None:
    finished = plateau_firing(
        type="ftwatch.job.finished",
        kind="status",
        rule="finished",
        reason="job succeeded",
        job=JobFacts(id="ftjob-abc123", status="succeeded", fine_tuned_model="ft:o4:acme"),
        actions=[],
    )
    rendered = render(
        "pagerduty", finished, now=FIRED_AT, external_url=EXTERNAL_URL, routing_key=ROUTING_KEY
    )
    assert rendered.path == "/v2/change/enqueue"
    change = render_json("pagerduty", finished)
    assert set(change) == {"routing_key", "payload", "links"}  # no action, key or severity
    assert change["payload"]["summary"].startswith("[finished] ftjob-abc123")
    assert change["payload"]["custom_details"]["fine_tuned_model"] == "ft:o4:acme"
    assert change["links"] == [{"href": JOB_URL, "text": "ftwatch: ftjob-abc123"}]
    trigger = render("pagerduty", plateau_firing(), now=FIRED_AT, routing_key=ROUTING_KEY)
    assert trigger.path == "/v2/enqueue"


def test_summary_fits_pagerduty_limit() -> None:
    event = render_json("pagerduty", plateau_firing(reason="x" * 5000))
    assert len(event["payload"]["summary"]) == 1024
    assert event["payload"]["summary"].endswith("…")


def test_a_routing_key_is_required() -> None:
    with pytest.raises(ValueError, match="routing key"):
        render("pagerduty", plateau_firing(), now=FIRED_AT)


def test_pagerdutys_error_body_reads_as_its_message_and_errors() -> None:
    body = (
        '{"status":"invalid event","message":"Event object is invalid",'
        '"errors":["Length of \'routing_key\' is incorrect (should be 32 characters)"]}'
    )
    assert error_detail("pagerduty", body) == (
        "Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"
    )
    assert error_detail("pagerduty", '{"message":"Rate limited"}') == "Rate limited"
    assert error_detail("pagerduty", "<html>bad gateway</html>") is None
    assert error_detail("slack", "invalid_payload") is None
