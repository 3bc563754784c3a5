"""Stalled: a job in a talking status (running) with no new event for a while; timer-driven.

Parameters (workers.rules.when.Stalled):
- for: how long without a new event before it fires (a duration).
- statuses: the statuses in which a job should keep emitting events (default running).

The quiet time runs from the later of the last event and the moment the job was
first seen in one of `statuses` (so a job just resumed is not stalled because its
last event predates the pause). `now` and `last_event_at` share one clock (seconds).
It clears when an event arrives or the job leaves those statuses.
"""

from __future__ import annotations

from typing import Literal

from service.models.event import EventFacts
from service.models.lifecycle import Status
from workers.rules.detectors.base import DetectorState, JobClock, Verdict
from workers.rules.detectors.kind import DetectorKind
from workers.rules.durations import format_duration
from workers.rules.when import Stalled


class StalledState(DetectorState):
    """When the job was first seen in a talking status."""

    kind: Literal["stalled"] = "stalled"
    since: float | None = None

    def rearmed(self) -> StalledState:
        return self.replace(active=False, since=None)


def tick(
    params: Stalled,
    state: StalledState,
    now: float,
    job_status: Status | None,
    last_event_at: float | None,
) -> tuple[StalledState, Verdict | None]:
    """Check the clock; a Verdict while the job has been quiet for at least `for`."""
    if job_status not in params.statuses:
        quiet_state = state.since is None and not state.active
        return (state if quiet_state else StalledState()), None
    since = state.since if state.since is not None else now
    quiet_from = since if last_event_at is None else max(since, last_event_at)
    quiet = max(now - quiet_from, 0.0)
    active = quiet >= params.for_
    # The same object when nothing changed: the ticker writes only changed states.
    new = (
        state
        if (state.since, state.active) == (since, active)
        else StalledState(since=since, active=active)
    )
    if not new.active:
        return new, None
    return new, Verdict(
        reason=(
            f"no new event for {format_duration(quiet)} while {job_status}"
            f" (limit {format_duration(params.for_)})"
        ),
        values={"seconds_since_event": quiet, "limit_seconds": params.for_},
        details={"status": job_status, "last_event_at": last_event_at},
    )


def step(
    params: Stalled, state: StalledState, event: EventFacts
) -> tuple[StalledState, Verdict | None]:
    """An event: the job talks, so the condition clears (the clock runs from it)."""
    del params, event
    return (state.replace(active=False) if state.active else state), None


def _tick(
    params: Stalled, state: StalledState, clock: JobClock
) -> tuple[StalledState, Verdict | None]:
    return tick(params, state, clock.now, clock.status, clock.last_event_at)


def _wakes(params: Stalled, last: float) -> tuple[float, float]:
    """At the event itself (the clock starts), and when the limit runs out after it."""
    return (last, last + params.for_)


KIND = DetectorKind(
    name="stalled", params=Stalled, state=StalledState, step=step, tick=_tick, wakes=_wakes
)
