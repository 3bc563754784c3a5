"""Turn rule verdicts into firings, action tasks, delayed resumes and deliveries (pure)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from service.models.action import ActionName, ActionTask
from service.models.event import EventFacts
from service.models.firing import ActionResult, Firing, FiringType, JobFacts
from service.models.lifecycle import is_terminal
from workers.rules.actions_spec import (
    Action,
    CancelAction,
    NotifyAction,
    PauseAction,
    ResumeAction,
)
from workers.rules.config import Rule
from workers.rules.detectors.base import Verdict, count
from workers.rules.durations import format_duration
from workers.rules.engine import RuleState
from workers.rules.firings import build_firing
from workers.rules.view import RulesView


@dataclass
class Decision:
    """What the rules decided for one job at one moment."""

    states: dict[str, RuleState] = field(default_factory=dict)
    firings: list[Firing] = field(default_factory=list)
    tasks: list[ActionTask] = field(default_factory=list)
    delayed: list[tuple[float, ActionTask]] = field(default_factory=list)  # (due epoch s, task)
    deliveries: list[tuple[str, Firing]] = field(default_factory=list)  # (receiver, firing)
    resumed_by: list[str] = field(default_factory=list)
    dead: list[tuple[str, str]] = field(default_factory=list)  # unreadable (event json, error)

    def merge(self, later: Decision) -> None:
        """Add `later` (the next event's decision) to this one; its states win."""
        self.states.update(later.states)
        self.firings += later.firings
        self.tasks += later.tasks
        self.delayed += later.delayed
        self.deliveries += later.deliveries
        self.resumed_by += later.resumed_by
        self.dead += later.dead


Judge = Callable[[Rule, RuleState | None], tuple[RuleState, Verdict | None]]


def decide_rules(
    rules: Sequence[Rule], view: RulesView, judge: Judge, trigger: Trigger
) -> Decision:
    """Run `judge` (an event's evaluate, or the timer's tick) for every rule; plan firings."""
    decision = Decision()
    for rule in rules:
        previous = view.state(rule.name)
        state, verdict = judge(rule, previous)
        if _changed(state, previous):
            decision.states[rule.name] = state
        if verdict is not None:
            resumes = view.resumes.get(rule.name, 0)
            fire(decision, rule, state, verdict, trigger, resumes_so_far=resumes)
    return decision


def _changed(state: RuleState, previous: RuleState | None) -> bool:
    """Whether `state` must be written: detectors and the engine hand back the very same
    objects when nothing changed, and a new detector object is a change (comparing it
    would cost more than writing it); only the engine's own fields are compared."""
    if state is previous:
        return False
    if previous is None or state.detector is not previous.detector:
        return True
    return state != previous


@dataclass  # not frozen: built for every event, and frozen dataclasses are slow to build
class Trigger:
    """Where a verdict came from: the event (if any), the job, the time."""

    facts: Callable[[], JobFacts]  # the job's facts, asked for only when a rule fires
    now: float
    event: EventFacts | None = None

    @cached_property
    def job(self) -> JobFacts:
        """The job's facts, built once and only when needed (most events fire nothing)."""
        return self.facts()


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
    firing = build_firing(
        rule, state, verdict, job=trigger.job, fired_at=trigger.now, event=trigger.event
    ).model_copy(update={"type": _firing_type(rule, trigger.job)})
    planner = _Planner(rule, trigger, resumes_so_far)
    results = [planner.plan(action) for action in rule.do]
    firing = firing.model_copy(update={"actions": results})
    # Tasks carry the final firing (with every action's planned outcome) for the audit;
    # a pause carries the resume that follows it.
    decision.tasks += [_final(t, firing, planner.resume_after) for t in planner.tasks]
    decision.delayed += [
        (due, t.model_copy(update={"firing": firing})) for due, t in planner.delayed
    ]
    decision.resumed_by += planner.resumed_by
    decision.firings.append(firing)
    decision.deliveries += [(name, firing) for name in planner.receivers]


def _final(task: ActionTask, firing: Firing, resume_after: float | None) -> ActionTask:
    """The task with the final firing; a pause also carries the resume that follows it."""
    update: dict[str, object] = {"firing": firing}
    if task.action == "pause":
        update["resume_after"] = resume_after
    return task.model_copy(update=update)


def _firing_type(rule: Rule, job: JobFacts) -> FiringType:
    if rule.kind == "status" and is_terminal(job.status):
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
    resume_after: float | None = None  # a resume chained to this firing's pause

    @property
    def pauses(self) -> bool:
        return any(isinstance(a, PauseAction) for a in self.rule.do)

    @property
    def receivers(self) -> list[str]:
        return [a.notify for a in self.rule.do if isinstance(a, NotifyAction)]

    def plan(self, action: Action) -> ActionResult:
        if isinstance(action, NotifyAction):
            return ActionResult(action=f"notify:{action.notify}", outcome="queued")
        name = _action_name(action)
        if self.rule.dry_run:
            return ActionResult(action=name, outcome="dry_run", detail="dry run: nothing called")
        status = self.trigger.job.status
        if is_terminal(status):
            # Events of the final drain carry the terminal status: nothing left to control.
            return ActionResult(action=name, outcome="skipped", detail=f"job already {status}")
        # The firing is filled in by `fire` once every action is planned.
        task = ActionTask(action=name, firing=_PLACEHOLDER, notify=self.receivers)
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
                detail=f"already resumed {count(self.resumes_so_far, 'time')} by this rule",
            )
        self.resumed_by.append(self.rule.name)
        after = action.resume.after
        if self.pauses:
            # Scheduled by the executor once the pause took effect, never before it.
            self.resume_after = after or 0.0
            when = f"{format_duration(after)} after the pause" if after else "after the pause"
            return ActionResult(
                action="resume",
                outcome="scheduled",
                detail=when,
                at=self.trigger.now + (after or 0.0),
            )
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
