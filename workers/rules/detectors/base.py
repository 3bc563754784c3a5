"""What every detector shares: its state's base, the Verdict it returns, number wording."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from service.models.event import EventFacts
from service.models.lifecycle import Status
from workers.rules.frozen import FrozenState


class DetectorState(FrozenState):
    """A detector's whole memory for one (rule, job); JSON with NaN/inf as constants.

    `kind` names the detector kind in the stored JSON: each subclass narrows it to
    `Literal["<name>"]` with that default (the registry checks it).
    `active` is the condition as the detector last judged it (with any hysteresis):
    the engine re-arms a fired rule only once `active` is False again.
    """

    kind: str = ""  # each kind's state narrows it (see above)
    active: bool = False

    def rearmed(self) -> Self:
        """The state after a resume: condition cleared (subclasses reset more)."""
        return self.replace(active=False)


@dataclass(frozen=True)
class JobClock:
    """What a timer tick sees of a job: the time, its status, its last event's time.

    `now` and `last_event_at` share one clock (seconds).
    """

    now: float
    status: Status | None
    last_event_at: float | None


class Verdict(BaseModel):
    """The condition holds: why in words, the values that decided it, the best seen."""

    model_config = ConfigDict(ser_json_inf_nan="constants", frozen=True)

    reason: str
    values: dict[str, float] = Field(default_factory=dict)
    best: float | None = None  # the best value of the watched metric so far
    best_step: int | None = None  # the step where it was reached (the model to keep)
    step: int | None = None  # the step of the event that decided it
    details: dict[str, Any] = Field(default_factory=dict)  # e.g. per-grader error rates


def fmt(value: float | None) -> str:
    """A metric value for messages: 4 significant digits, `nan`/`inf` spelled out."""
    if value is None:
        return "none"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.4g}"


def count(number: int, unit: str) -> str:
    """`1 evaluation`, `3 evaluations`, `5 steps`: every message names its unit."""
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def new_step(event: EventFacts, last_step: int | None) -> bool:
    """False for an event at or before the last step already evaluated.

    Events are delivered at least once; a redelivered metrics event must not count as
    a second evaluation. Events without a step cannot be told apart and always count.
    """
    step = event.step
    return step is None or last_step is None or step > last_step


def later_step(step: int | None, last_step: int | None) -> int | None:
    """The last step evaluated after an evaluation at `step`."""
    return step if step is not None else last_step
