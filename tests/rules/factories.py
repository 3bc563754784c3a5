"""Builders of normalized events and rules for the rule-engine tests."""

from __future__ import annotations

import itertools
from typing import Any

from service.models.event import NormalizedEvent
from workers.rules.config import Rule
from workers.rules.loading import parse_rules

T0 = 1_700_000_000
_ids = itertools.count(1)


def event(
    step: int | None = None,
    *,
    job: str = "ftjob-1",
    status: str | None = "running",
    method: str | None = "reinforcement",
    model: str | None = "o4-mini-2025-04-16",
    metadata: dict[str, str] | None = None,
    at: int | None = None,
    metrics: dict[str, float] | None = None,
    **named: float,
) -> NormalizedEvent:
    """A metrics event at `step` (its created_at grows with the step unless `at` is given)."""
    values = {**(metrics or {}), **named}
    if step is not None:
        values["step"] = float(step)
    created = at if at is not None else T0 + 60 * (step or 0)
    return NormalizedEvent(
        job_id=job,
        event_id=f"ftevent-{next(_ids)}",
        created_at=created,
        type="metrics" if values else "message",
        method=method,
        model=model,
        metadata=metadata or {},
        status=status,
        metrics=values,
    )


def graders(step: int, rates: dict[str, float], **more: Any) -> NormalizedEvent:
    """An RFT metrics event whose per-grader error rate is `rates[name]` (parse errors)."""
    metrics = {f"graders.{name}.train_sample_parse_error_mean": r for name, r in rates.items()}
    return event(step, metrics=metrics, **more)


def rule(when: dict[str, Any], **fields: Any) -> Rule:
    """One validated rule named `r` doing `notify: log` unless told otherwise."""
    raw = {"name": "r", "when": when, "do": [{"notify": "log"}], **fields}
    return parse_rules({"rules": [raw]}).rules[0]
