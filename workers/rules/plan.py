"""Turn rule verdicts into firings, action tasks, delayed resumes and deliveries (pure)."""

from __future__ import annotations

from dataclasses import dataclass, field

from service.models.action import ActionName, ActionTask
from service.models.event import NormalizedEvent
from service.models.firing import ActionResult, Firing, FiringType, JobFacts
from service.models.job import JobSnapshot
from service.upstream.models import TERMINAL_STATUSES
from workers.rules.actions_spec import (
    Action,
    CancelAction,
    NotifyAction,
    PauseAction,
    ResumeAction,
)
from workers.rules.config import Rule
from workers.rules.detectors.base import Verdict
from workers.rules.engine import RuleState, firing_id


@dataclass
class Decision:
    """What the rules decided for one job at one moment."""

    states: dict[str, RuleState] = field(default_factory=dict)
    firings: list[Firing] = field(default_factory=list)
    tasks: list[ActionTask] = field(default_factory=list)
    delayed: list[tuple[float, ActionTask]] = field(default_factory=list)  # (due epoch s, task)
    deliveries: list[tuple[str, Firing]] = field(default_factory=list)  # (receiver, firing)
    resumed_by: list[str] = field(default_factory=list)


def facts_of_event(event: NormalizedEvent, snapshot_step: int | None = None) -> JobFacts:
    return JobFacts(
        id=event.job_id,
        model=event.model,
        method=event.method,
        metadata=event.metadata,
        status=event.status,
        step=event.step if event.step is not None else snapshot_step,
    )


def facts_of_snapshot(job: JobSnapshot) -> JobFacts:
    return JobFacts(
        id=job.job_id,
        model=job.model,
        method=job.method,
        metadata=job.metadata,
        status=job.status,
        step=job.step,
        fine_tuned_model=job.fine_tuned_model,
    )


@dataclass(frozen=True)
class Trigger:
    """Where a verdict came from: the event (if any), the job, the time, the source."""

    job: JobFacts
    now: float
    source: str = "openai"
    event_id: str | None = None
    event_created_at: int | None = None


def fire(
    decision: Decision,
    rule: Rule,
    state: RuleState,
    verdict: Verdict,
    trigger: Trigger,
    *,
    resumes_so_far: int,
) -> None:
    """Add the firing of `rule` and everything it asks for to `decision`."""
    firing = Firing(
        firing_id=firing_id(rule.name, trigger.job.id, state.episode),
        type=_firing_type(rule, trigger.job),
        rule=rule.name,
        kind=rule.kind,
        job=trigger.job,
        reason=verdict.reason,
        values=verdict.values,
        best=verdict.best,
        best_step=verdict.best_step,
        dry_run=rule.dry_run,
        event_id=trigger.event_id,
        event_created_at=trigger.event_created_at,
        fired_at=trigger.now,
    )
    planner = _Planner(rule, trigger, resumes_so_far)
    results = [planner.plan(action) for action in rule.do]
    firing = firing.model_copy(update={"actions": results})
    # Tasks carry the final firing (with every action's planned outcome) for the audit.
    decision.tasks += [t.model_copy(update={"firing": firing}) for t in planner.tasks]
    decision.delayed += [
        (due, t.model_copy(update={"firing": firing})) for due, t in planner.delayed
    ]
    decision.resumed_by += planner.resumed_by
    decision.firings.append(firing)
    decision.deliveries += [(name, firing) for name in planner.receivers]


def _firing_type(rule: Rule, job: JobFacts) -> FiringType:
    if rule.kind == "status" and job.status in TERMINAL_STATUSES:
        return "ftwatch.job.finished"
    return "ftwatch.rule.fired"


@dataclass
class _Planner:
    """Plans each action of one firing; collects the tasks it creates."""

    rule: Rule
    trigger: Trigger
    resumes_so_far: int
    tasks: list[ActionTask] = field(default_factory=list)
    delayed: list[tuple[float, ActionTask]] = field(default_factory=list)
    resumed_by: list[str] = field(default_factory=list)

    @property
    def receivers(self) -> list[str]:
        return [a.notify for a in self.rule.do if isinstance(a, NotifyAction)]

    def plan(self, action: Action) -> ActionResult:
        if isinstance(action, NotifyAction):
            return ActionResult(action=f"notify:{action.notify}", outcome="queued")
        name = _action_name(action)
        if self.rule.dry_run:
            return ActionResult(action=name, outcome="dry_run", detail="dry run: nothing called")
        # The firing is filled in by `fire` once every action is planned.
        task = ActionTask(
            action=name, firing=_PLACEHOLDER, source=self.trigger.source, notify=self.receivers
        )
        if isinstance(action, ResumeAction):
            return self._resume(action, task)
        self.tasks.append(task)
        return ActionResult(action=name, outcome="queued")

    def _resume(self, action: ResumeAction, task: ActionTask) -> ActionResult:
        cap = action.resume.max_times
        if cap is not None and self.resumes_so_far >= cap:
            return ActionResult(
                action="resume",
                outcome="skipped",
                detail=f"already resumed {self.resumes_so_far} times by this rule",
            )
        self.resumed_by.append(self.rule.name)
        after = action.resume.after
        if after:
            due = self.trigger.now + after
            self.delayed.append((due, task))
            return ActionResult(action="resume", outcome="scheduled", at=due)
        self.tasks.append(task)
        return ActionResult(action="resume", outcome="queued")


_PLACEHOLDER = Firing(firing_id="", rule="", kind="", job=JobFacts(id=""), reason="", fired_at=0)


def _action_name(action: Action) -> ActionName:
    if isinstance(action, PauseAction):
        return "pause"
    if isinstance(action, CancelAction):
        return "cancel"
    return "resume"
