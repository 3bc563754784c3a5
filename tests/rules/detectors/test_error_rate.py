from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from tests.rules.factories import event, graders, rule
from workers.rules.detectors.error_rate import ErrorRateState, grader_rates, step
from workers.rules.engine import RuleState, evaluate
from workers.rules.when import ErrorRate


def feed(params: ErrorRate, series: list[dict[str, float]]) -> list[bool]:
    state = ErrorRateState()
    fired = []
    for index, rates in enumerate(series):
        state, verdict = step(params, state, graders(index + 1, rates))
        fired.append(verdict is not None)
    return fired


def test_a_grader_rate_sums_its_train_error_means_only() -> None:
    metrics = {
        "graders.g.train_sample_parse_error_mean": 0.1,
        "graders.g.train_invalid_variable_error_mean": 0.05,
        "graders.g.train_other_error_mean": 0.02,
        "graders.g.train_python_grader_runtime_error_mean": 0.03,
        "graders.g.train_other_error_count": 40.0,  # a count, not a rate
        "graders.g.valid_other_error_mean": 0.9,  # validation samples do not count
        "graders.g.train_reward_mean": 0.7,
        "graders.my.grader.train_other_error_mean": 0.4,  # dots in a grader's name
        "graders.h.train_other_error_mean": math.nan,
        "train_reward_mean": 0.5,
    }
    rates = grader_rates(metrics)
    assert rates.keys() == {"g", "my.grader"}
    assert math.isclose(rates["g"], 0.2)
    assert rates["my.grader"] == 0.4


def test_top_level_rates_count_as_one_grader_when_no_grader_is_named() -> None:
    assert grader_rates({"train_sample_parse_error_mean": 0.3, "train_other_error_mean": 0.1}) == {
        "all": 0.4
    }
    assert grader_rates({"train_loss": 1.0}) == {}


def test_it_fires_only_once_the_window_is_full_and_names_the_worst_grader() -> None:
    params = ErrorRate(threshold=0.25, window_steps=3)
    state = ErrorRateState()
    series = [{"a": 0.5, "b": 0.1}, {"a": 0.4, "b": 0.2}, {"a": 0.3, "b": 0.0}]
    verdicts = []
    for index, rates in enumerate(series, start=1):
        state, verdict = step(params, state, graders(index, rates))
        verdicts.append(verdict)
    assert verdicts[:2] == [None, None]
    fired = verdicts[2]
    assert fired is not None
    assert fired.reason == "grader error rate 0.4 (grader a) is above 0.25 over the last 3 steps"
    assert fired.step == 3
    assert math.isclose(fired.values["error_rate"], 0.4)
    assert fired.values["threshold"] == 0.25
    assert math.isclose(fired.values["graders.b.error_rate"], 0.1)
    assert fired.details["worst_grader"] == "a"
    assert fired.details["graders"].keys() == {"a", "b"}
    assert fired.details["window_steps"] == 3
    assert fired.details["clear_below"] == 0.125


def test_hysteresis_holds_the_condition_until_the_rate_falls_below_clear_below() -> None:
    params = ErrorRate(threshold=0.25, window_steps=1, clear_below=0.1)
    state = ErrorRateState()
    trace = []
    for index, rate in enumerate([0.3, 0.2, 0.3, 0.15, 0.05, 0.3], start=1):
        state, verdict = step(params, state, graders(index, {"g": rate}))
        trace.append((state.active, verdict is not None))
    assert trace == [
        (True, True),
        (True, False),  # between clear_below and threshold: still the same episode
        (True, True),
        (True, False),
        (False, False),  # cleared
        (True, True),
    ]


def test_steps_without_grader_errors_and_redeliveries_are_not_evaluations() -> None:
    params = ErrorRate(threshold=0.25, window_steps=2)
    state, _ = step(params, ErrorRateState(), graders(1, {"g": 0.9}))
    state, verdict = step(params, state, event(2, train_reward_mean=0.4))
    assert verdict is None and len(state.window) == 1
    state, verdict = step(params, state, graders(1, {"g": 0.9}))  # step 1 again
    assert verdict is None and len(state.window) == 1
    state, verdict = step(params, state, graders(3, {"g": 0.9}))
    assert verdict is not None


def test_rearming_starts_a_fresh_window() -> None:
    params = ErrorRate(threshold=0.25, window_steps=2)
    state = ErrorRateState()
    for index in (1, 2):
        state, _ = step(params, state, graders(index, {"g": 0.9}))
    state = state.rearmed()
    assert (state.active, state.window) == (False, [])
    state, verdict = step(params, state, graders(3, {"g": 0.9}))
    assert verdict is None  # one step is not a full window


_RATES = st.floats(0, 1, allow_nan=False)


@given(
    st.floats(0.01, 1),
    st.integers(1, 8),
    st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), _RATES, min_size=1), max_size=40),
)
def test_a_series_below_threshold_never_fires(
    threshold: float, window: int, raw: list[dict[str, float]]
) -> None:
    params = ErrorRate(threshold=threshold, window_steps=window)
    # Scale every grader's rate (three categories summed) to just below the threshold.
    state = ErrorRateState()
    for index, rates in enumerate(raw, start=1):
        metrics = {}
        for name, rate in rates.items():
            part = rate * threshold * 0.999 / 3
            for category in ("sample_parse", "invalid_variable", "other"):
                metrics[f"graders.{name}.train_{category}_error_mean"] = part
        state, verdict = step(params, state, event(index, metrics=metrics))
        assert verdict is None


@given(
    st.integers(1, 6),
    st.lists(st.floats(0.13, 0.6), min_size=1, max_size=40),
)
def test_a_rate_oscillating_around_the_threshold_fires_once_not_on_every_crossing(
    window: int, series: list[float]
) -> None:
    threshold, clear = 0.25, 0.125
    the_rule = rule({"error_rate": {"threshold": threshold, "window_steps": window}})
    state: RuleState | None = None
    firings = 0
    for index, rate in enumerate(series, start=1):
        state, verdict = evaluate(the_rule, state, graders(index, {"g": rate}), float(index))
        firings += verdict is not None
    windows = [series[max(0, i - window + 1) : i + 1] for i in range(window - 1, len(series))]
    breached = any(math.fsum(w) / len(w) > threshold for w in windows)
    assert all(rate > clear for rate in series)
    assert firings == (1 if breached else 0)
