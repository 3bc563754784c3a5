"""Firings the notification tests render: one plateau firing and its variants."""

from __future__ import annotations

import json
from typing import Any

from service.models.firing import ActionResult, Firing, JobFacts
from workers.notify.payloads import render

JOB_ID = "ftjob-abc123"
RULE = "reward-plateau"
CHECKPOINT = "ft:o4-mini-2025-04-16:acme:search-rft:7p4lURel:ckpt-step-37"
REASON = (
    "valid_reward_mean 0.612 has not beaten best 0.615 (step 37) "
    "by more than 0.01 for 3 evaluations"
)
FIRED_AT = 1_763_780_401.25  # 2025-11-22T03:00:01.250Z
EXTERNAL_URL = "https://ftwatch.example.com"
ROUTING_KEY = "R0UT1NGKEYR0UT1NGKEYR0UT1NGKEY12"


def plateau_firing(**changes: Any) -> Firing:
    """A reward plateau on an RFT job that paused it and queued a notice to `ops`."""
    fields: dict[str, Any] = {
        "firing_id": "fir_0b3c9d2e",
        "type": "ftwatch.rule.fired",
        "rule": RULE,
        "kind": "plateau",
        "job": JobFacts(
            id=JOB_ID,
            model="o4-mini-2025-04-16",
            method="reinforcement",
            metadata={"team": "search", "run": "nightly-7"},
            status="running",
            step=40,
        ),
        "reason": REASON,
        "values": {"valid_reward_mean": 0.612, "best": 0.615},
        "best": 0.615,
        "best_step": 37,
        "checkpoint": CHECKPOINT,
        "actions": [
            ActionResult(action="pause", outcome="ok", at=FIRED_AT + 0.5),
            ActionResult(action="notify:ops", outcome="queued"),
        ],
        "event_id": "ftevent-9f8e7d",
        "event_created_at": 1_763_780_400,
        "fired_at": FIRED_AT,
    }
    fields.update(changes)
    return Firing(**fields)


def _no_constants(token: str) -> Any:
    raise AssertionError(f"body holds the non-JSON constant {token}")


def strict_loads(body: bytes) -> Any:
    """Parse a body as strict JSON: NaN/Infinity tokens, which JSON lacks, fail the test."""
    return json.loads(body, parse_constant=_no_constants)


def render_json(format: str, firing: Firing | None = None, **options: Any) -> Any:
    """Render `firing` (the plateau sample by default) as a receiver would parse it."""
    options.setdefault("external_url", EXTERNAL_URL)
    options.setdefault("receiver", "ops")
    options.setdefault("routing_key", ROUTING_KEY)
    rendered = render(format, firing or plateau_firing(), now=FIRED_AT + 1, **options)
    assert rendered.content_type == "application/json"
    return strict_loads(rendered.body)
