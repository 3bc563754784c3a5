"""Resolve notices: a rule's open incident ends when its job is resumed or finishes, or
when its condition cleared (the rule re-armed) (pure).

PagerDuty and Alertmanager receivers keep an incident open per job and rule until told
otherwise; Slack posts the notice as a message; standard receivers drop it (workers/notify).
"""

from __future__ import annotations

from service.models.event import STATUS_EVENT, EventFacts, NormalizedEvent
from service.models.firing import Firing
from service.models.lifecycle import Status, is_terminal, recorded, was_resumed
from workers.rules.actions_spec import NotifyAction
from workers.rules.config import Rule
from workers.rules.engine import RuleState, firing_id
from workers.rules.firings import facts_of_event


def resolve_reason(event: EventFacts) -> str | None:
    """Why open incidents of this job end with `event` (a status change), or None."""
    if not isinstance(event, NormalizedEvent) or event.type != STATUS_EVENT:
        return None
    if not isinstance(event.data, dict):
        return None
    # Status events recorded before ftwatch had its own lifecycle carry OpenAI's names.
    before, after = (_status_of(event.data.get(k)) for k in ("from", "to"))
    if is_terminal(after):
        return f"job {after}"
    if was_resumed(before, after):
        return "job resumed"
    return None


def cleared(previous: RuleState | None, state: RuleState | None) -> str | None:
    """`condition cleared` when this event re-armed a rule that had fired, else None."""
    if previous is None or state is None or previous.armed or not state.armed:
        return None
    return "condition cleared"


def _status_of(value: object) -> Status:
    return recorded(value if isinstance(value, str) else None)


def resolve_notices(
    rule: Rule, previous: RuleState | None, event: EventFacts, reason: str, now: float
) -> list[tuple[str, Firing]]:
    """The resolve notice of `rule`'s last firing for each of its receivers, if still open."""
    receivers = [a.notify for a in rule.do if isinstance(a, NotifyAction)]
    if rule.kind == "status" or previous is None or previous.armed or not receivers:
        return []
    if previous.fired_count == 0:
        return []
    notice = Firing(
        firing_id=firing_id(rule.name, event.key, previous.episode),
        rule=rule.name,
        kind=rule.kind,
        job=facts_of_event(event),
        reason=f"resolved: {reason}",
        fired_at=now,
        resolved=True,
        severity=rule.severity,
        event_id=event.event_id,
        event_created_at=event.created_at,
    )
    return [(name, notice) for name in receivers]
