"""Pure rule evaluation with firing semantics: once per episode, re-arm, cooldown, match.

Per (rule, job) the caller keeps one RuleState (JSON-serializable) and feeds it every
event of the job in order (`evaluate`) and, periodically, the job's snapshot (`tick`,
which drives `stalled` and `status` rules and notices resumes between events).

- A rule fires once per episode: after firing it is disarmed until its detector says
  the condition cleared (`DetectorState.active` is False again) or the job was
  resumed; re-arming starts the next episode.
- A resume is noticed by itself when the job's status goes from `paused` to a
  non-terminal status (through events or snapshots); call `on_resumed` when the
  caller knows of one otherwise. A resume also resets the detector's patience.
- `cooldown` silences a rule for a job for a while after it fired: a verdict in that
  time is dropped (the rule stays armed, so it fires once the cooldown is over if
  the condition still holds).
- `dry_run` does not change evaluation; the caller records instead of acting.
"""

from __future__ import annotations

import hashlib

from service.models.event import EventFacts
from service.models.job import JobSnapshot
from service.models.lifecycle import RecordedStatus, Status, was_resumed
from workers.rules.conditions import AnyDetectorState
from workers.rules.config import Rule
from workers.rules.detectors.base import JobClock, Verdict
from workers.rules.detectors.registry import DETECTORS
from workers.rules.frozen import FrozenState


class RuleState(FrozenState):
    """Everything the engine remembers about one rule for one job."""

    detector: AnyDetectorState
    armed: bool = True  # False from a firing until the condition clears or the job resumes
    episode: int = 1  # the current episode; a firing's id is (rule, job, episode)
    fired_count: int = 0
    cooldown_until: float | None = None
    last_fired_at: float | None = None
    last_status: RecordedStatus | None = None  # the job status last seen, to notice resumes


def initial_state(rule: Rule) -> RuleState:
    """A fresh state for `rule` on a job it has never seen."""
    return RuleState(detector=DETECTORS[rule.kind].initial())


def fit_state(rule: Rule, state: RuleState | None) -> RuleState:
    """`state`, or a fresh one when missing or made for another kind of condition.

    Episodes keep counting across such a reset so firing ids never repeat.
    """
    if state is None:
        return initial_state(rule)
    if state.detector.kind == rule.kind:
        return state
    return RuleState(detector=DETECTORS[rule.kind].initial(), episode=state.episode + 1)


def firing_id(rule_name: str, job_key: str, episode: int) -> str:
    """The stable id of one firing: the dedup key of every effect it causes.

    `job_key` is `<provider>:<id>`: two providers' jobs of one id never share a claim.
    """
    digest = hashlib.sha256(f"{rule_name}\x00{job_key}\x00{episode}".encode()).hexdigest()
    return f"fir_{digest[:32]}"


def on_resumed(state: RuleState) -> RuleState:
    """The job was resumed: re-arm (a new episode if it had fired) and reset the detector."""
    update: dict[str, object] = {"detector": state.detector.rearmed()}
    if not state.armed:
        update |= {"armed": True, "episode": state.episode + 1}
    return state.replace(**update)


def evaluate(
    rule: Rule, state: RuleState | None, event: EventFacts, now: float
) -> tuple[RuleState, Verdict | None]:
    """Feed one event of a job to one rule; a Verdict when the rule fires now."""
    current = fit_state(rule, state)
    if not rule.applies_to(event.method, event.model, event.metadata, event.provider):
        return current, None
    current = _track_status(current, event.status)
    detector, verdict = DETECTORS[rule.kind].on_event(rule.when.params, current.detector, event)
    if detector is not current.detector:  # most events leave most detectors as they were
        current = current.replace(detector=detector)
    return _decide(rule, current, verdict, now)


def tick(
    rule: Rule, state: RuleState | None, job: JobSnapshot, now: float
) -> tuple[RuleState, Verdict | None]:
    """Feed the job's snapshot at time `now`: drives timer-driven kinds (stalled, status).

    `job.last_event_at` must be on the clock of `now`.
    """
    current = fit_state(rule, state)
    if not rule.applies_to(job.method, job.model, job.metadata, job.provider):
        return current, None
    current = _track_status(current, job.status)
    kind = DETECTORS[rule.kind]
    if kind.tick is None:
        return current, None
    last = float(job.last_event_at) if job.last_event_at is not None else None
    clock = JobClock(now=now, status=job.status, last_event_at=last)
    new, verdict = kind.on_tick(rule.when.params, current.detector, clock)
    if new is not current.detector:
        current = current.replace(detector=new)
    return _decide(rule, current, verdict, now)


def _track_status(state: RuleState, job_status: Status | None) -> RuleState:
    if job_status is None or job_status == state.last_status:
        return state
    resumed = was_resumed(state.last_status, job_status)
    state = state.replace(last_status=job_status)
    return on_resumed(state) if resumed else state


def _decide(
    rule: Rule, state: RuleState, verdict: Verdict | None, now: float
) -> tuple[RuleState, Verdict | None]:
    """Apply once-per-episode, re-arming and cooldown to the detector's verdict."""
    if not state.armed:
        if not state.detector.active:
            state = state.replace(armed=True, episode=state.episode + 1)
        return state, None
    if verdict is None:
        return state, None
    if state.cooldown_until is not None and now < state.cooldown_until:
        return state, None
    fired = state.replace(
        armed=False,
        fired_count=state.fired_count + 1,
        last_fired_at=now,
        cooldown_until=now + rule.cooldown if rule.cooldown else None,
    )
    return fired, verdict
