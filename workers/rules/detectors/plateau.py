"""Plateau: a metric that stopped improving (early stopping, as Keras/Optuna/Ray define it).

Parameters (workers.rules.when.Plateau):
- metric: the flattened metric name; an event without it is not an evaluation.
- mode: `max` (higher is better, rewards) or `min` (lower is better, losses).
- patience: evaluations in a row without improvement that make it fire.
- min_delta / min_delta_rel: an improvement beats the best by more than `min_delta`
  AND by more than `min_delta_rel * |best|` (Keras' min_delta plus a relative margin,
  because rewards have no known scale). A smaller gain is no improvement.
- warmup_steps: values at steps before this set the best but never count toward
  patience (Keras start_from_epoch, Ray Tune grace_period, Optuna n_warmup_steps).
- smoothing: EMA weight of the past (0 = raw values; 0.9 = heavy smoothing), for noisy
  per-step metrics such as train_reward_mean. Comparisons use the smoothed value.
- baseline: the best starts at this value, so the metric must beat it (Keras baseline).

NaN/inf values count as evaluations that did not improve; they never become the best
and never enter the EMA. The best value reported is the highest (mode max) value seen,
with its step: the checkpoint a user keeps after a plateau.
"""

from __future__ import annotations

import math
from typing import Literal

from service.models.event import EventFacts
from workers.rules.detectors.base import DetectorState, Verdict, count, fmt, later_step, new_step
from workers.rules.detectors.kind import DetectorKind
from workers.rules.when import Plateau


class PlateauState(DetectorState):
    """Best so far, evaluations since the last improvement, EMA."""

    kind: Literal["plateau"] = "plateau"
    best: float | None = None  # the reference an improvement must beat by the margins
    best_step: int | None = None
    peak: float | None = None  # the best value ever seen (may be a sub-margin gain)
    peak_step: int | None = None
    wait: int = 0  # evaluations after warmup since the last improvement
    ema: float | None = None
    last_step: int | None = None
    evaluations: int = 0

    def rearmed(self) -> PlateauState:
        """After a resume: keep the best, give the job `patience` fresh evaluations."""
        return self.replace(active=False, wait=0)


def better(mode: str, value: float, than: float | None) -> bool:
    """Strictly better in `mode` (a finite value beats no value)."""
    if not math.isfinite(value):
        return False
    if than is None:
        return True
    return value > than if mode == "max" else value < than


def margin(params: Plateau, best: float) -> float:
    """How much a value must beat `best` by to count as an improvement."""
    return max(params.min_delta, params.min_delta_rel * abs(best))


def improves(params: Plateau, value: float, best: float | None) -> bool:
    """Beats `best` by more than min_delta and by more than min_delta_rel * |best|."""
    if not math.isfinite(value):
        return False
    if best is None:
        return True
    gain = value - best if params.mode == "max" else best - value
    return gain > params.min_delta and gain > params.min_delta_rel * abs(best)


def _smooth(params: Plateau, ema: float | None, raw: float) -> float | None:
    if not math.isfinite(raw):
        return ema  # a NaN would poison the average for good
    if ema is None or params.smoothing == 0:
        return raw
    return params.smoothing * ema + (1 - params.smoothing) * raw


def step(
    params: Plateau, state: PlateauState, event: EventFacts
) -> tuple[PlateauState, Verdict | None]:
    """Feed one event; a Verdict while `patience` evaluations have passed without improvement."""
    raw = event.metrics.get(params.metric)
    if raw is None or not new_step(event, state.last_step):
        return state, None
    ema = _smooth(params, state.ema, raw)
    value = ema if math.isfinite(raw) and ema is not None else raw
    best = state.best if state.best is not None else params.baseline
    warmup = event.step is not None and event.step < params.warmup_steps
    update: dict[str, object] = {}
    wait = state.wait
    if better(params.mode, value, state.peak):
        update |= {"peak": value, "peak_step": event.step}
    if warmup and better(params.mode, value, best):
        update |= {"best": value, "best_step": event.step}
    elif not warmup and improves(params, value, best):
        update |= {"best": value, "best_step": event.step}
        wait = 0
    elif not warmup:
        wait += 1
    new = state.replace(
        **update,
        ema=ema,
        last_step=later_step(event.step, state.last_step),
        evaluations=state.evaluations + 1,
        wait=wait,
        active=wait >= params.patience,
    )
    return new, (_verdict(params, new, raw, value, event.step) if new.active else None)


def _verdict(
    params: Plateau, state: PlateauState, raw: float, value: float, step_: int | None
) -> Verdict:
    best = state.best if state.best is not None else params.baseline
    values = {params.metric: raw, "evaluations_without_improvement": float(state.wait)}
    values["patience"] = float(params.patience)
    if params.smoothing:
        values["smoothed"] = value
    if best is not None:
        values["best"] = best
        values["margin"] = margin(params, best)
    return Verdict(
        reason=_reason(params, state, value, best),
        values=values,
        best=state.peak,
        best_step=state.peak_step,
        step=step_,
        details={"mode": params.mode, "metric": params.metric},
    )


def _reason(params: Plateau, state: PlateauState, value: float, best: float | None) -> str:
    """`valid_reward_mean 0.6 has not improved on 0.6 by 0.01 for 2 evaluations; best 0.605
    at step 20`: the mark to beat, then the one best value and its step."""
    name = params.metric + (f" (EMA {params.smoothing:g})" if params.smoothing else "")
    span = count(state.wait, "evaluation")
    if best is None:
        return f"{name} has had no finite value for {span}"
    gap = margin(params, best)
    by = f" by {fmt(gap)}" if gap > 0 else ""
    mark = f"the baseline {fmt(best)}" if state.best is None else fmt(best)
    text = f"{name} {fmt(value)} has not improved on {mark}{by} for {span}"
    if state.peak is not None and state.peak_step is not None:
        return f"{text}; best {fmt(state.peak)} at step {state.peak_step}"
    return text


KIND = DetectorKind(name="plateau", params=Plateau, state=PlateauState, step=step)
