"""Resolve notices: a rule's open incident ends when its condition clears, or its job is
resumed or finishes (pure).

PagerDuty and Alertmanager receivers keep an incident open per job and rule until told
otherwise; Slack posts the notice as a message; standard receivers drop it (workers/notify).
"""

from __future__ import annotations

from service.models.event import STATUS_EVENT, EventFacts, NormalizedEvent
from service.models.firing import Firing, JobFacts
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


def _status_of(value: object) -> Status:
    return recorded(value if isinstance(value, str) else None)


def resolve_notices(
    rule: Rule, previous: RuleState | None, event: EventFacts, reason: str, now: float
) -> list[tuple[str, Firing]]:
    """The resolve notice of `rule`'s last firing for each of its receivers, if still open."""
    return _notices(rule, previous, facts_of_event(event), reason, now=now, event=event)


def rearmed(previous: RuleState | None, state: RuleState) -> bool:
    """Whether `state` re-armed a rule that had fired (its condition cleared, or a resume)."""
    return previous is not None and not previous.armed and state.armed


def cleared_notices(
    rule: Rule,
    previous: RuleState | None,
    state: RuleState,
    job: JobFacts,
    *,
    now: float,
    event: EventFacts | None = None,
) -> list[tuple[str, Firing]]:
    """Resolve notices when `state` re-armed the rule that `previous` had fired."""
    if previous is None or not rearmed(previous, state):
        return []
    before, after = previous.last_status, state.last_status
    resumed = after is not None and before != after and was_resumed(before, after)
    reason = "job resumed" if resumed else "condition cleared"
    # Same firing id as the status change's notice: a receiver gets one resolve per episode.
    return _notices(rule, previous, job, reason, now=now, event=event)


def _notices(
    rule: Rule,
    previous: RuleState | None,
    job: JobFacts,
    reason: str,
    *,
    now: float,
    event: EventFacts | None,
) -> list[tuple[str, Firing]]:
    receivers = [a.notify for a in rule.do if isinstance(a, NotifyAction)]
    if rule.kind == "status" or previous is None or previous.armed or not receivers:
        return []
    if previous.fired_count == 0:
        return []
    notice = Firing(
        firing_id=firing_id(rule.name, job.key, previous.episode),
        rule=rule.name,
        kind=rule.kind,
        job=job,
        reason=f"resolved: {reason}",
        fired_at=now,
        resolved=True,
        severity=rule.severity,
        event_id=event.event_id if event else None,
        event_created_at=event.created_at if event else None,
    )
    return [(name, notice) for name in receivers]
