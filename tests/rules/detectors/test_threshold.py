from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tests.rules.factories import event
from workers.rules.detectors.threshold import ThresholdState, step
from workers.rules.when import Threshold


def test_a_non_finite_loss_fires_naming_the_best_loss_before_it() -> None:
    params = Threshold(metric="train_loss", non_finite=True)
    state = ThresholdState()
    for index, loss in enumerate([0.9, 0.41, 0.5], start=10):
        state, verdict = step(params, state, event(index, train_loss=loss, method="supervised"))
        assert verdict is None
    state, verdict = step(params, state, event(13, train_loss=math.nan, method="supervised"))
    assert verdict is not None
    assert verdict.reason == "train_loss nan is not finite at step 13; best 0.41 at step 11"
    assert (verdict.best, verdict.best_step, verdict.step) == (0.41, 11, 13)
    assert math.isnan(verdict.values["train_loss"])


def test_above_and_below_name_the_limit() -> None:
    above = Threshold(metric="train_loss", above=5.0)
    _, verdict = step(above, ThresholdState(), event(7, train_loss=6.25))
    assert verdict is not None
    assert verdict.reason == "train_loss 6.25 is above 5 at step 7; best 6.25 at step 7"
    assert verdict.values == {"train_loss": 6.25, "above": 5.0}
    below = Threshold(metric="valid_reward_mean", below=0.1)
    _, verdict = step(below, ThresholdState(), event(3, valid_reward_mean=0.05))
    assert verdict is not None and verdict.reason.startswith("valid_reward_mean 0.05 is below 0.1")
    _, verdict = step(below, ThresholdState(), event(3, valid_reward_mean=0.1))
    assert verdict is None


def test_consecutive_breaches_are_required_and_a_good_value_clears() -> None:
    params = Threshold(metric="train_loss", above=5.0, consecutive=3)
    state = ThresholdState()
    trace = []
    for index, loss in enumerate([6, 7, 1, 6, 6, 6, 6], start=1):
        state, verdict = step(params, state, event(index, train_loss=loss))
        trace.append((state.active, verdict is not None))
    assert trace == [
        (False, False),
        (False, False),
        (False, False),
        (False, False),
        (False, False),
        (True, True),
        (True, True),
    ]
    assert verdict is not None
    assert verdict.reason.startswith("train_loss 6 is above 5 for 4 evaluations at step 7")


def test_nan_is_no_evaluation_unless_non_finite_is_watched() -> None:
    params = Threshold(metric="train_loss", above=5.0)
    state, _ = step(params, ThresholdState(), event(1, train_loss=9.0))
    assert state.active
    state, verdict = step(params, state, event(2, train_loss=math.nan))
    assert verdict is None and state.active  # neither breach nor clear
    state, verdict = step(params, state, event(3, train_loss=math.inf))
    assert verdict is not None  # +inf is above 5 all the same


def test_missing_metric_and_redelivered_step_are_ignored() -> None:
    params = Threshold(metric="train_loss", non_finite=True)
    state, verdict = step(params, ThresholdState(), event(1, train_mean_token_accuracy=0.5))
    assert (verdict, state) == (None, ThresholdState())
    state, _ = step(params, state, event(2, train_loss=0.5))
    state, verdict = step(params, state, event(2, train_loss=math.nan))
    assert verdict is None and not state.active


@given(
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.none() | st.floats(-10, 10),
    st.lists(st.floats(-1e3, 1e3), max_size=10),
    st.sampled_from(["train_loss", "valid_loss", "train_reward_mean"]),
)
def test_non_finite_values_fire_the_threshold_rule(
    bad: float, above: float | None, before: list[float], metric: str
) -> None:
    params = Threshold(metric=metric, above=above, non_finite=True)
    state = ThresholdState()
    for index, value in enumerate(before):
        state, _ = step(params, state, event(index, metrics={metric: value}))
    state, verdict = step(params, state, event(len(before), metrics={metric: bad}))
    assert verdict is not None
    assert "is not finite" in verdict.reason
    assert ThresholdState.model_validate_json(state.model_dump_json()) == state
