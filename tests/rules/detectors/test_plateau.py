from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from tests.rules.factories import event
from workers.rules.detectors.base import Verdict
from workers.rules.detectors.plateau import PlateauState, step
from workers.rules.when import Plateau

METRIC = "valid_reward_mean"


def run(params: Plateau, values: Sequence[float], steps: Sequence[int] | None = None) -> list[Any]:
    """The verdict (or None) after each evaluation."""
    state = PlateauState()
    out: list[Verdict | None] = []
    for index, value in enumerate(values):
        at = steps[index] if steps is not None else 10 * (index + 1)
        state, verdict = step(params, state, event(at, metrics={METRIC: value}))
        out.append(verdict)
    return out


def first_firing(verdicts: list[Verdict | None]) -> int | None:
    return next((i for i, v in enumerate(verdicts) if v is not None), None)


def test_the_firing_says_why_in_words_with_the_values_and_best_step() -> None:
    params = Plateau(metric=METRIC, patience=3, min_delta=0.01)
    verdicts = run(params, [0.5, 0.615, 0.61, 0.6, 0.612])
    assert verdicts[:4] == [None] * 4
    fired = verdicts[4]
    assert fired is not None
    assert fired.reason == (
        "valid_reward_mean 0.612 has not improved on 0.615 by 0.01 for 3 evaluations;"
        " best 0.615 at step 20"
    )
    assert fired.best == 0.615
    assert fired.best_step == 20
    assert fired.step == 50
    assert fired.values == {
        METRIC: 0.612,
        "best": 0.615,
        "margin": 0.01,
        "evaluations_without_improvement": 3.0,
        "patience": 3.0,
    }


def test_a_gain_below_min_delta_is_no_improvement_but_is_the_best_to_keep() -> None:
    params = Plateau(metric=METRIC, patience=2, min_delta=0.01)
    verdicts = run(params, [0.60, 0.605, 0.60])
    fired = verdicts[2]
    assert fired is not None
    assert fired.reason == (
        "valid_reward_mean 0.6 has not improved on 0.6 by 0.01 for 2 evaluations;"
        " best 0.605 at step 20"
    )
    assert (fired.best, fired.best_step) == (0.605, 20)


def test_the_relative_margin_scales_with_the_best() -> None:
    params = Plateau(metric=METRIC, patience=1, min_delta=0.0, min_delta_rel=0.1)
    assert run(params, [10.0, 10.5])[1] is not None  # +5 % of |best| is not enough
    assert run(params, [10.0, 11.01])[1] is None
    assert run(params, [-10.0, -9.5])[1] is not None  # |best| for negative rewards too


def test_mode_min_watches_a_loss() -> None:
    params = Plateau(metric="valid_loss", mode="min", patience=2, min_delta=0.05)
    state = PlateauState()
    verdicts = []
    for index, loss in enumerate([1.0, 0.9, 0.88, 0.87]):
        state, verdict = step(params, state, event(index, valid_loss=loss))
        verdicts.append(verdict)
    assert verdicts[:3] == [None, None, None]
    assert verdicts[3] is not None
    assert verdicts[3].reason.startswith("valid_loss 0.87 has not improved on 0.9 by 0.05 ")


def test_values_before_warmup_set_the_best_but_never_count() -> None:
    params = Plateau(metric=METRIC, patience=2, warmup_steps=30)
    verdicts = run(params, [0.7, 0.5, 0.5, 0.5, 0.5], steps=[0, 10, 20, 30, 40])
    assert first_firing(verdicts) == 4  # steps 30 and 40 count; the best 0.7 came from warmup
    assert verdicts[4] is not None and verdicts[4].best == 0.7


def test_smoothing_ignores_a_lone_spike_that_would_stop_a_raw_series() -> None:
    series = [0.1, 0.2, 0.3, 0.4, 0.9, 0.5, 0.6, 0.7]
    assert first_firing(run(Plateau(metric=METRIC, patience=3), series)) == 7
    smoothed = run(Plateau(metric=METRIC, patience=3, smoothing=0.5), series)
    assert first_firing(smoothed) is None


def test_smoothed_values_are_reported_next_to_the_raw_one() -> None:
    params = Plateau(metric=METRIC, patience=1, smoothing=0.5)
    fired = run(params, [1.0, 0.0])[1]
    assert fired is not None
    assert fired.values[METRIC] == 0.0
    assert fired.values["smoothed"] == 0.5
    assert fired.reason.startswith("valid_reward_mean (EMA 0.5) 0.5 has not improved on 1 ")


def test_a_baseline_must_be_beaten() -> None:
    params = Plateau(metric=METRIC, patience=2, min_delta=0.0, baseline=0.3)
    verdicts = run(params, [0.2, 0.25])
    assert verdicts[1] is not None
    assert verdicts[1].reason == (
        "valid_reward_mean 0.25 has not improved on the baseline 0.3 for 2 evaluations;"
        " best 0.25 at step 20"
    )
    assert first_firing(run(params, [0.31, 0.31, 0.31])) == 2


def test_non_finite_values_count_but_never_improve_nor_become_the_best() -> None:
    params = Plateau(metric=METRIC, patience=2)
    verdicts = run(params, [0.5, math.nan, math.inf])
    assert verdicts[2] is not None
    assert verdicts[2].best == 0.5
    assert verdicts[2].reason.startswith("valid_reward_mean inf has not improved on 0.5")
    only_nan = run(params, [math.nan, math.nan])
    assert only_nan[1] is not None
    assert only_nan[1].reason == "valid_reward_mean has had no finite value for 2 evaluations"


def test_events_without_the_metric_or_redelivered_are_not_evaluations() -> None:
    params = Plateau(metric=METRIC, patience=1)
    state, _ = step(params, PlateauState(), event(10, metrics={METRIC: 0.5}))
    state, verdict = step(params, state, event(20, train_reward_mean=0.1))
    assert verdict is None and state.evaluations == 1
    state, verdict = step(params, state, event(10, metrics={METRIC: 0.4}))  # redelivered step 10
    assert verdict is None and state.evaluations == 1
    state, verdict = step(params, state, event(30, metrics={METRIC: 0.4}))
    assert verdict is not None and state.active


def test_rearming_gives_fresh_patience_and_keeps_the_best() -> None:
    params = Plateau(metric=METRIC, patience=2)
    state = PlateauState()
    for index, value in enumerate([0.5, 0.4, 0.4]):
        state, _ = step(params, state, event(index, metrics={METRIC: value}))
    assert state.active
    state = state.rearmed()
    assert (state.active, state.wait, state.best) == (False, 0, 0.5)
    state, verdict = step(params, state, event(3, metrics={METRIC: 0.4}))
    assert verdict is None


def test_state_survives_json_with_nan() -> None:
    params = Plateau(metric=METRIC, patience=5, smoothing=0.3)
    state = PlateauState()
    for index, value in enumerate([0.1, math.nan, 0.3]):
        state, _ = step(params, state, event(index, metrics={METRIC: value}))
    text = state.model_dump_json()
    assert PlateauState.model_validate_json(text) == state


_PARAMS = st.builds(
    Plateau,
    metric=st.just(METRIC),
    mode=st.sampled_from(["max", "min"]),
    patience=st.integers(1, 8),
    min_delta=st.floats(0, 1),
    warmup_steps=st.just(0),
)


@given(
    _PARAMS,
    st.floats(-1e3, 1e3),
    st.lists(st.floats(1e-6, 10), min_size=1, max_size=40),
)
def test_a_series_improving_by_more_than_min_delta_never_fires(
    params: Plateau, start: float, extra: list[float]
) -> None:
    sign = 1 if params.mode == "max" else -1
    series = [start]
    for gain in extra:
        series.append(series[-1] + sign * (params.min_delta + gain))
    assume(all(sign * (b - a) > params.min_delta for a, b in pairwise(series)))
    assert first_firing(run(params, series)) is None


@given(_PARAMS, st.floats(-1e6, 1e6), st.integers(0, 30))
def test_a_flat_series_fires_exactly_at_evaluation_patience_after_the_best(
    params: Plateau, value: float, extra: int
) -> None:
    verdicts = run(params, [value] * (params.patience + 1 + extra))
    assert first_firing(verdicts) == params.patience
    assert all(v is not None for v in verdicts[params.patience :])
    fired = verdicts[params.patience]
    assert fired is not None and fired.best == value and fired.best_step == 10


@given(
    _PARAMS,
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=30),
)
def test_arbitrary_series_never_fire_early_and_the_best_is_always_finite(
    params: Plateau, series: list[float]
) -> None:
    state = PlateauState()
    for index, value in enumerate(series):
        state, verdict = step(params, state, event(index, metrics={METRIC: value}))
        if verdict is not None:
            assert index + 1 >= params.patience
            assert verdict.best is None or math.isfinite(verdict.best)
        assert state.best is None or math.isfinite(state.best)
    assert PlateauState.model_validate_json(state.model_dump_json()) == state
