"""The curve language: shapes, noise, clamps and NaN."""

from __future__ import annotations

import itertools
import math

import pytest
from pydantic import ValidationError

from simulator.curves import Curve


def values(curve: Curve, total: int = 20) -> list[float]:
    return [curve.value(step, total) for step in range(1, total + 1)]


def test_linear_and_exp_reach_their_end_and_a_number_is_a_constant() -> None:
    assert values(Curve(start=0.0, end=1.0), 4) == [0.25, 0.5, 0.75, 1.0]
    exp = values(Curve(kind="exp", start=2.0, end=0.5))
    assert all(a > b for a, b in itertools.pairwise(exp)) and abs(exp[-1] - 0.5) < 0.02
    assert values(Curve.model_validate(0.7), 3) == [0.7, 0.7, 0.7]


def test_plateau_stops_improving_at_plateau_at() -> None:
    plateau = values(Curve(kind="plateau", start=0.3, end=0.6, plateau_at=8, noise=0.002))
    assert plateau[0] < 0.35 and all(abs(v - 0.6) < 0.01 for v in plateau[7:])


def test_diverge_grows_past_any_threshold_then_goes_nan() -> None:
    curve = Curve(kind="diverge", start=2.0, end=1.0, diverge_at=5, growth=2.0, nan_at=15)
    loss = values(curve)
    assert loss[5] > loss[4] * 1.9 and loss[10] > 50
    assert all(math.isnan(v) for v in loss[14:])
    huge = Curve(kind="diverge", start=1.0, end=1.0, diverge_at=0, growth=10.0)
    assert huge.value(10_000, 10) > 1e300  # no OverflowError on long runs


def test_noise_is_deterministic_per_seed_and_clamped() -> None:
    noisy = Curve(start=0.5, end=0.5, noise=0.5, seed=3, min=0.0, max=1.0)
    assert values(noisy) == values(Curve(start=0.5, end=0.5, noise=0.5, seed=3, min=0.0, max=1.0))
    assert values(noisy) != values(noisy.model_copy(update={"seed": 4}))
    assert all(0.0 <= v <= 1.0 for v in values(noisy))


def test_invalid_curves_are_rejected() -> None:
    with pytest.raises(ValidationError):
        Curve.model_validate({"kind": "sine"})
    with pytest.raises(ValidationError):
        Curve(min=1.0, max=0.0)
