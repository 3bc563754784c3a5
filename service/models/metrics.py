"""Flatten an event's `data` into the metric names rules and dashboards use (SPEC §4)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

# Sections of RFT `data` whose numeric leaves are metrics; usage/timing are cost
# figures, not training signals, and would only multiply per-job series.
_GRADER_SECTIONS = ("scores", "errors")


def to_float(value: Any) -> float | None:
    """A metric value as a float; NaN/inf (also as strings) kept, anything else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        # JSON integers can exceed a float's range; such a metric is not usable.
        return float(value) if abs(value) < 2**1023 else None
    return _text_to_float(value) if isinstance(value, str) else None


def _text_to_float(text: str) -> float | None:
    """`"0.5"`, `"NaN"`, `"-Infinity"` as floats; any other text None."""
    word = text.strip().lower().replace("infinity", "inf")
    try:
        return float(word)
    except ValueError:
        return None


def _leaves(section: Mapping[str, Any], out: dict[str, float], prefix: str = "") -> None:
    for key, value in section.items():
        number = to_float(value)
        if number is not None:
            out[f"{prefix}{key}"] = number


def _graders(section: Mapping[str, Any], out: dict[str, float]) -> None:
    graders = section.get("graders")
    if not isinstance(graders, list):
        return
    for index, grader in enumerate(graders):
        if not isinstance(grader, Mapping):
            continue
        name = grader.get("name")
        label = name if isinstance(name, str) and name else f"grader{index}"
        _leaves(grader, out, prefix=f"graders.{label}.")


def flatten_metrics(data: Mapping[str, Any] | None) -> dict[str, float]:
    """`{step, train_loss, train_reward_mean, graders.<name>.<leaf>, ...}` from `data`.

    Top-level numeric keys keep their names (SFT/DPO put everything there); RFT
    `scores` and `errors` contribute their leaves and per-grader leaves.
    """
    out: dict[str, float] = {}
    if not isinstance(data, Mapping):
        return out
    _leaves(data, out)
    for name in _GRADER_SECTIONS:
        section = data.get(name)
        if isinstance(section, Mapping):
            _leaves(section, out)
            _graders(section, out)
    return out


# Metric names a job's snapshot keeps (what GET /v1/jobs/{id} shows): well above what
# any trainer logs (OpenAI's RFT events carry ~20 with a few graders), low enough that a
# flood of names (the review's F3) cannot grow a job hash or its API view without bound.
# The rules still see every name on the events themselves.
MAX_SNAPSHOT_METRICS = 256
# Counters that travel as metrics but are kept as the snapshot's own fields.
COUNTERS = frozenset({"step", "total_steps"})


def merge_bounded(
    kept: Mapping[str, float], new: Mapping[str, float], limit: int = MAX_SNAPSHOT_METRICS
) -> tuple[dict[str, float], int]:
    """`kept` updated with `new` (counters left out), new names refused past `limit`;
    returns the merge and how many names it refused."""
    merged, refused = dict(kept), 0
    for name, value in new.items():
        if name in COUNTERS:
            continue
        if name in merged or len(merged) < limit:
            merged[name] = value
        else:
            refused += 1
    return merged, refused


def is_finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)
