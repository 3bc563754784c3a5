"""Threshold: a metric above or below a value, or non-finite (a diverging train_loss).

Parameters (workers.rules.when.Threshold):
- metric: the flattened metric name; an event without it is not an evaluation.
- above / below: breached when the value is > above or < below.
- non_finite: breached when the value is NaN or ±inf. Without it a NaN is no
  evaluation at all (it neither breaches nor clears).
- consecutive: evaluations in a row that must breach before it fires, like Prometheus'
  `for:` counted in evaluations (1: the first breach fires).

The condition clears at the first evaluation within bounds. The best value reported
is the lowest seen when `above` is set (losses), the highest when only `below` is
set, and for `non_finite` alone the lowest for metrics named *loss*, else the highest.
"""

from __future__ import annotations

import math
from typing import Literal

from service.models.event import EventFacts
from workers.rules.detectors.base import DetectorState, Verdict, count, fmt, later_step, new_step
from workers.rules.detectors.kind import DetectorKind
from workers.rules.when import Threshold


class ThresholdState(DetectorState):
    """Breaches in a row and the best finite value seen."""

    kind: Literal["threshold"] = "threshold"
    streak: int = 0
    best: float | None = None
    best_step: int | None = None
    last_step: int | None = None

    def rearmed(self) -> ThresholdState:
        return self.replace(active=False, streak=0)


def lower_is_better(params: Threshold) -> bool:
    """Which way the best value lies for this rule's metric."""
    if params.above is not None:
        return True
    if params.below is not None:
        return False
    return "loss" in params.metric.lower()


def breach(params: Threshold, value: float) -> str | None:
    """How `value` breaches the rule, in words; None when it is within bounds."""
    if params.non_finite and not math.isfinite(value):
        return "is not finite"
    if params.above is not None and value > params.above:
        return f"is above {fmt(params.above)}"
    if params.below is not None and value < params.below:
        return f"is below {fmt(params.below)}"
    return None


def _best(
    params: Threshold, state: ThresholdState, value: float, at: int | None
) -> dict[str, object]:
    if not math.isfinite(value):
        return {}
    if state.best is None or (
        value < state.best if lower_is_better(params) else value > state.best
    ):
        return {"best": value, "best_step": at}
    return {}


def step(
    params: Threshold, state: ThresholdState, event: EventFacts
) -> tuple[ThresholdState, Verdict | None]:
    """Feed one event; a Verdict while the last `consecutive` evaluations breached."""
    value = event.metrics.get(params.metric)
    if value is None or not new_step(event, state.last_step):
        return state, None
    if math.isnan(value) and not params.non_finite:
        return state, None
    how = breach(params, value)
    streak = state.streak + 1 if how else 0
    new = state.replace(
        streak=streak,
        active=streak >= params.consecutive,
        last_step=later_step(event.step, state.last_step),
        **_best(params, state, value, event.step),
    )
    if not new.active or how is None:
        return new, None
    return new, _verdict(params, new, value, how, event.step)


def _verdict(
    params: Threshold, state: ThresholdState, value: float, how: str, at: int | None
) -> Verdict:
    text = f"{params.metric} {fmt(value)} {how}"
    if params.consecutive > 1:
        text += f" for {count(state.streak, 'evaluation')}"
    if at is not None:
        text += f" at step {at}"
    if state.best is not None and state.best_step is not None:
        text += f"; best {fmt(state.best)} at step {state.best_step}"
    values = {params.metric: value}
    for key in ("above", "below"):
        limit = getattr(params, key)
        if limit is not None:
            values[key] = limit
    return Verdict(
        reason=text,
        values=values,
        best=state.best,
        best_step=state.best_step,
        step=at,
        details={"metric": params.metric, "consecutive": state.streak},
    )


KIND = DetectorKind(name="threshold", params=Threshold, state=ThresholdState, step=step)
