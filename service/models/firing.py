"""A rule firing: the audit record written to `ftwatch:actions` and handed to notifiers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from service.models.ident import DEFAULT_PROVIDER, job_key
from service.models.lifecycle import RecordedStatus

Outcome = Literal[
    "ok", "already", "failed", "skipped", "dry_run", "scheduled", "queued", "unsupported"
]
# PagerDuty's four severities; a rule's `severity` and Alertmanager's label use the same.
Severity = Literal["critical", "error", "warning", "info"]
FiringType = Literal["ftwatch.rule.fired", "ftwatch.action.failed", "ftwatch.job.finished"]


class JobFacts(BaseModel):
    """The job as the firing saw it (what a notification names)."""

    id: str
    # Firings recorded before providers existed name none: they were OpenAI's (or, for
    # an ingest task, its `source` says so; see ActionTask.provider).
    provider: str = DEFAULT_PROVIDER
    model: str | None = None
    method: str | None = None
    metadata: dict[str, str] = Field(default_factory=dict)
    status: RecordedStatus | None = None  # ftwatch's lifecycle status
    step: int | None = None
    fine_tuned_model: str | None = None

    @property
    def key(self) -> str:
        """`<provider>:<id>`, the job's name in the store."""
        return job_key(self.provider, self.id)


class ActionResult(BaseModel):
    """One requested action and what came of it."""

    action: str  # pause | resume | cancel | notify:<receiver>
    outcome: Outcome
    detail: str = ""
    at: float | None = None


class Firing(BaseModel):
    """One rule firing for one job, with everything that decided it."""

    model_config = ConfigDict(ser_json_inf_nan="constants")

    firing_id: str  # stable per (rule, job, episode): the dedup key of every effect
    type: FiringType = "ftwatch.rule.fired"
    rule: str
    kind: str  # plateau | error_rate | threshold | stalled | status | manual
    job: JobFacts
    reason: str
    values: dict[str, float] = Field(default_factory=dict)
    best: float | None = None
    best_step: int | None = None
    checkpoint: str | None = None
    actions: list[ActionResult] = Field(default_factory=list)
    dry_run: bool = False
    # The rule's severity; None in firings recorded before rules had one (and manual ones).
    severity: Severity | None = None
    event_id: str | None = None
    event_created_at: int | None = None
    fired_at: float
    resolved: bool = False  # True for a "resolve" notice (job resumed or finished)
    # "fired": the decision (actions as planned); "action": one action's outcome, later,
    # as a failed action's notice and the firing's outcome records (notify/outcomes.py)
    # carry it. The audit log records an action as an ActionRecord (models/audit.py); its
    # entries of before issue 18 are whole Firings of stage "action".
    stage: Literal["fired", "action"] = "fired"
