"""Turn an engine verdict into the Firing record of service/models/firing.py (pure)."""

from __future__ import annotations

from service.models.event import EventFacts
from service.models.firing import Firing, JobFacts
from service.models.job import JobSnapshot
from workers.rules.config import Rule
from workers.rules.detectors.base import Verdict
from workers.rules.engine import RuleState, firing_id


def facts_of_event(event: EventFacts) -> JobFacts:
    """The job as an event shows it."""
    return JobFacts(
        id=event.job_id,
        provider=event.provider,
        model=event.model,
        method=event.method,
        metadata=dict(event.metadata),
        status=event.status,
        step=event.step,
    )


def facts_of_snapshot(job: JobSnapshot) -> JobFacts:
    """The job as a snapshot shows it."""
    return JobFacts(
        id=job.job_id,
        provider=job.provider,
        model=job.model,
        method=job.method,
        metadata=dict(job.metadata),
        status=job.status,
        step=job.step,
        fine_tuned_model=job.fine_tuned_model,
    )


def build_firing(
    rule: Rule,
    state: RuleState,
    verdict: Verdict,
    *,
    job: JobFacts,
    fired_at: float,
    event: EventFacts | None = None,
) -> Firing:
    """The firing of `rule` decided by `verdict`; `state` is the one `evaluate` returned."""
    return Firing(
        firing_id=firing_id(rule.name, job.key, state.episode),
        rule=rule.name,
        kind=rule.kind,
        job=job if verdict.step is None else job.model_copy(update={"step": verdict.step}),
        reason=verdict.reason,
        values=dict(verdict.values),
        best=verdict.best,
        best_step=verdict.best_step,
        dry_run=rule.dry_run,
        severity=rule.severity,
        event_id=event.event_id if event else None,
        event_created_at=event.created_at if event else None,
        fired_at=fired_at,
    )
