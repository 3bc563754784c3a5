"""A decision ftwatch sent the training loop (SPEC §10), and how its JSON is read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

ACTIONS = ("pause", "cancel")
# What the callbacks report in the ack: `done` (a pause saved its checkpoint and stopped,
# a cancel stopped) or `failed` (it could not, and training goes on; `message` says why).
OUTCOME_DONE = "done"
OUTCOME_FAILED = "failed"


@dataclass(frozen=True)
class Decision:
    """`pause` (save a checkpoint, then stop) or `cancel` (stop), with the rule's why."""

    id: str
    action: str
    job_id: str | None = None
    rule: str | None = None
    reason: str | None = None
    best_value: float | None = None
    best_step: int | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _text(body: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = body.get(name)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_decision(body: object) -> Decision | None:
    """A decision object (bare or under `decision`), or None when it is not one we can act on."""
    if isinstance(body, Mapping) and isinstance(body.get("decision"), Mapping):
        body = body["decision"]
    if not isinstance(body, Mapping):
        return None
    ident = _text(body, "id", "decision_id")
    action = _text(body, "action")
    if ident is None or action not in ACTIONS:
        return None
    return Decision(
        id=ident,
        action=action,
        job_id=_text(body, "job_id"),
        rule=_text(body, "rule"),
        reason=_text(body, "reason", "message"),
        best_value=_number(body.get("best_value")),
        best_step=_integer(body.get("best_step")),
        raw=dict(body),
    )


def decisions_of_reply(body: object, job_id: str) -> list[Decision]:
    """The pending decisions an ingest reply carries for `job_id` (other jobs' ignored)."""
    if not isinstance(body, Mapping):
        return []
    items = body.get("decisions")
    if isinstance(items, Mapping):  # keyed by job id
        items = [items.get(job_id)]
    found = [parse_decision(item) for item in items or [] if item is not None]
    return [d for d in found if d is not None and d.job_id in (None, job_id)]
