"""Grader error rate (SPEC §5), windowed and with hysteresis so it does not flap.

Parameters (workers.rules.when.ErrorRate):
- threshold: fires when the rate is above this.
- window_steps: the rate is averaged over the last this many steps that reported
  grader errors; it fires only once the window is full (no verdict from one bad step).
- clear_below: once fired, the condition clears only when the rate falls below this
  (default threshold / 2) — Prometheus-style hysteresis: oscillating around the
  threshold fires once, not on every crossing.

The rate of one step, per grader, is the sum of its `train_*_error_mean` rates
(`graders.<name>.train_sample_parse_error_mean` + `…invalid_variable…` + `…other…`, and
any other train_*_error_mean a grader reports). Each grader's rate is averaged over the
window; the worst grader counts. Events carrying only top-level train_*_error_mean keys
count as one grader named `all`. Steps with no such key are not evaluations.
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from typing import Literal

from pydantic import BaseModel, ConfigDict

from service.models.event import EventFacts
from workers.rules.detectors.base import DetectorState, Verdict, count, fmt, later_step, new_step
from workers.rules.detectors.kind import DetectorKind
from workers.rules.when import ErrorRate

_RATE = re.compile(r"train_\w+_error_mean")
_PREFIX = "graders."
ALL_GRADERS = "all"
_TOP = ""  # a rate named without a grader (no grader name is empty)


class StepRates(BaseModel):
    """One step's error rate per grader."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    step: int | None = None
    rates: dict[str, float]


class ErrorRateState(DetectorState):
    """The last `window_steps` steps' per-grader rates."""

    kind: Literal["error_rate"] = "error_rate"
    window: list[StepRates] = []
    last_step: int | None = None

    def rearmed(self) -> ErrorRateState:
        """After a resume: judge the job on fresh steps only."""
        return self.replace(active=False, window=[])


def grader_rates(metrics: dict[str, float]) -> dict[str, float]:
    """Each grader's summed train_*_error_mean rate in one event (finite values only)."""
    parts: dict[str, list[float]] = defaultdict(list)
    top: list[float] = []
    for key, grader in _rate_keys(tuple(metrics)):
        value = metrics[key]
        if not math.isfinite(value):
            continue
        if grader == _TOP:
            top.append(value)
        else:
            parts[grader].append(value)
    if not parts and top:
        parts[ALL_GRADERS] = top
    return {grader: math.fsum(values) for grader, values in parts.items()}


@functools.lru_cache(maxsize=1024)  # a job reports the same metric names on every step
def _rate_keys(names: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """The error rates among the metric `names`, each with its grader (_TOP: top-level)."""
    return tuple((name, grader) for name in names if (grader := _grader_of(name)) is not None)


def _grader_of(key: str) -> str | None:
    """The grader whose error rate `key` is (_TOP: a top-level rate), or None."""
    if key.startswith(_PREFIX):
        # Grader names may contain dots; the leaf never does.
        grader, _, leaf = key[len(_PREFIX) :].rpartition(".")
        return grader if grader and _RATE.fullmatch(leaf) else None
    return _TOP if _RATE.fullmatch(key) else None


def window_rates(window: list[StepRates]) -> dict[str, float]:
    """Each grader's mean rate over the steps of the window that report it."""
    seen: dict[str, list[float]] = defaultdict(list)
    for entry in window:
        for grader, rate in entry.rates.items():
            seen[grader].append(rate)
    # Clamped to the values' range: float rounding must not lift a mean of values that
    # are all below the threshold above it.
    return {g: min(max(math.fsum(v) / len(v), min(v)), max(v)) for g, v in sorted(seen.items())}


def step(
    params: ErrorRate, state: ErrorRateState, event: EventFacts
) -> tuple[ErrorRateState, Verdict | None]:
    """Feed one event; a Verdict while the full window's worst grader rate is above threshold."""
    rates = grader_rates(event.metrics)
    if not rates or not new_step(event, state.last_step):
        return state, None
    window = [*state.window, StepRates(step=event.step, rates=rates)][-params.window_steps :]
    per_grader = window_rates(window)
    worst_grader = max(per_grader, key=lambda g: per_grader[g])
    worst = per_grader[worst_grader]
    full = len(window) >= params.window_steps
    active = state.active
    if full and worst > params.threshold:
        active = True
    elif worst < params.clear_level:
        active = False
    new = state.replace(
        window=window, active=active, last_step=later_step(event.step, state.last_step)
    )
    if not (full and active and worst > params.threshold):
        return new, None
    return new, Verdict(
        reason=(
            f"grader error rate {fmt(worst)} (grader {worst_grader}) is above"
            f" {fmt(params.threshold)} over the last {count(len(window), 'step')}"
        ),
        values={
            "error_rate": worst,
            "threshold": params.threshold,
            **{f"graders.{g}.error_rate": rate for g, rate in per_grader.items()},
        },
        step=event.step,
        details={
            "graders": per_grader,
            "worst_grader": worst_grader,
            "window_steps": len(window),
            "clear_below": params.clear_level,
        },
    )


KIND = DetectorKind(name="error_rate", params=ErrorRate, state=ErrorRateState, step=step)
