"""Status: the job reached one of the listed statuses (e.g. succeeded, failed, cancelled).

Parameter: the list of statuses. The status comes from an event (`EventFacts.status`,
the job's status when the event was polled) or from a job snapshot; an unknown status
(None) is no evaluation. It clears when the job leaves those statuses.
"""

from __future__ import annotations

from typing import Literal

from service.models.event import EventFacts
from service.models.lifecycle import RecordedStatus, Status
from workers.rules.detectors.base import DetectorState, JobClock, Verdict
from workers.rules.detectors.kind import DetectorKind
from workers.rules.when import Statuses


class StatusState(DetectorState):
    """The last status seen."""

    kind: Literal["status"] = "status"
    status: RecordedStatus | None = None

    def rearmed(self) -> StatusState:
        return self.replace(active=False)


def observe(
    statuses: list[Status], state: StatusState, status: Status | None
) -> tuple[StatusState, Verdict | None]:
    """Feed the job's status; a Verdict while it is one of `statuses`."""
    if status is None:
        return state, None
    active = status in statuses
    new = (
        state
        if (state.status, state.active) == (status, active)
        else StatusState(status=status, active=active)
    )
    if not new.active:
        return new, None
    return new, Verdict(reason=f"job status is {status}", details={"status": status})


def step(
    statuses: list[Status], state: StatusState, event: EventFacts
) -> tuple[StatusState, Verdict | None]:
    """Feed one event (its `status`)."""
    return observe(statuses, state, event.status)


def _tick(
    statuses: list[Status], state: StatusState, clock: JobClock
) -> tuple[StatusState, Verdict | None]:
    """The job's snapshot: its status as last polled (between events, too)."""
    return observe(statuses, state, clock.status)


KIND = DetectorKind(name="status", params=Statuses, state=StatusState, step=step, tick=_tick)
