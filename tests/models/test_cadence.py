"""The poll cadence model, driven by a pure simulation of one job and its polls."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from service.models.cadence import (
    Cadence,
    Outcome,
    Pace,
    decode,
    next_poll,
    observe,
    prior_gap,
    suspend,
)

PACE = Pace(interval=2.0, max_factor=6.0)
BOUND = PACE.interval * PACE.max_factor
START = 1_000_000.0


@dataclass
class Run:
    """What the polls of one job saw: when each poll ran and when it read each event."""

    polls: list[float] = field(default_factory=list)
    read_at: list[float] = field(default_factory=list)
    finding: list[int] = field(default_factory=list)  # events read by each poll
    outcomes: list[Outcome] = field(default_factory=list)

    def latencies(self, times: Sequence[float]) -> list[float]:
        return [read - at for at, read in zip(times, self.read_at, strict=False)]


def simulate(times: Sequence[float], until: float, pace: Pace = PACE) -> Run:
    """Poll as the model says from START to `until`; events are visible from their time."""
    run, state, at, read = Run(), Cadence(), START, 0
    while at <= until:
        new = [t for t in times[read:] if t <= at]
        read += len(new)
        run.polls.append(at)
        run.read_at += [at] * len(new)
        run.finding.append(len(new))
        # Upstream stamps events in whole seconds.
        state, outcome = observe(state, at, [math.floor(t) for t in new])
        if outcome is not None:
            run.outcomes.append(outcome)
        at = next_poll(state, pace)
    return run


def steady(period: float, phase: float, count: int) -> list[float]:
    return [START + phase + period * n for n in range(count)]


PERIODS = st.floats(min_value=3.0, max_value=11.0)
PHASES = st.floats(min_value=0.0, max_value=1.0)


@settings(max_examples=200, deadline=None)
@given(PERIODS, PHASES)
def test_a_steady_job_is_polled_about_once_per_event_after_a_short_warm_up(
    period: float, phase: float
) -> None:
    times = steady(period, phase, 60)
    run = simulate(times, times[-1])
    warm = times[5]  # the first few events teach the model the period
    later = [p for p in run.polls if p > warm]
    events = [t for t in times if t > warm]
    # Whole-second timestamps blur an event's phase: now and then a follow-up poll.
    assert len(later) <= len(events) * 1.1 + 1
    assert max(run.latencies(times)[6:]) <= 2.0  # read within ~a second of appearing
    assert run.outcomes.count("hit") >= 0.85 * len(run.outcomes)


@settings(max_examples=200, deadline=None)
@given(PERIODS, PHASES, st.floats(min_value=0.2, max_value=5.0), st.integers(3, 20))
def test_a_job_that_changes_pace_is_seen_within_the_bound(
    period: float, phase: float, factor: float, changed_after: int
) -> None:
    first = steady(period, phase, changed_after)
    then = [first[-1] + period * factor * n for n in range(1, 30)]
    times = first + then
    run = simulate(times, times[-1] + BOUND)
    assert len(run.read_at) == len(times)  # every event read, once each
    assert max(run.latencies(times)) <= BOUND + 1e-6


@settings(max_examples=100, deadline=None)
@given(PERIODS, PHASES, st.floats(min_value=0.0, max_value=60.0))
def test_a_job_that_stops_is_still_polled_at_least_every_bound(
    period: float, phase: float, surprise: float
) -> None:
    times = steady(period, phase, 20)
    late = times[-1] + 100 + surprise  # an unexpected event long after the job went quiet
    run = simulate([*times, late], late + BOUND)
    gaps = [b - a for a, b in zip(run.polls, run.polls[1:], strict=False)]
    assert max(gaps) <= BOUND + 1e-6
    assert run.read_at[-1] - late <= BOUND + 1e-6
    quiet = [p for p in run.polls if times[-1] + 3 * period < p < late]
    # Backed off: far fewer polls than every interval while nothing comes.
    assert len(quiet) <= (late - times[-1]) / PACE.interval / 3


@settings(max_examples=100, deadline=None)
@given(PERIODS, PHASES, st.integers(2, 40), st.integers(8, 20))
def test_a_burst_is_read_in_one_poll_and_leaves_the_prediction_in_step(
    period: float, phase: float, burst: int, at_event: int
) -> None:
    times = steady(period, phase, 30)
    times[at_event:at_event] = [times[at_event]] * (burst - 1)  # burst events at once
    run = simulate(times, times[-1])
    assert burst in run.finding or burst + 1 in run.finding
    after = [p for p in run.polls if p > times[at_event + burst + 3]]
    assert len(after) <= len([t for t in times if t > times[at_event + burst + 3]]) * 1.2 + 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=600.0), max_size=80))
def test_never_more_polls_than_every_interval(offsets: list[float]) -> None:
    times = sorted(START + o for o in offsets)
    run = simulate(times, START + 600 + BOUND)
    assert len([p for p in run.polls if p <= START + 600]) <= 600 / PACE.interval + 1
    assert len(run.read_at) == len(times)
    assert max(run.latencies(times), default=0) <= BOUND + 1e-6


def test_a_dense_job_is_polled_every_interval_reading_several_events() -> None:
    times = steady(0.5, 0.3, 400)
    run = simulate(times, times[-1])
    gaps = [b - a for a, b in zip(run.polls, run.polls[1:], strict=False)]
    assert min(gaps) >= PACE.interval - 1e-6
    assert max(gaps) <= PACE.interval + 1e-6


def test_under_a_short_budget_a_predicted_poll_keeps_its_time() -> None:
    times = steady(7.0, 0.4, 10)
    run = simulate(times, times[-1])
    state = Cadence()
    for at, found in zip(run.polls, run.finding, strict=True):
        read = [math.floor(t) for t in times if at - 7 < t <= at] if found else []
        state, _ = observe(state, at, read)
    assert state.expect_at is not None
    tight = Pace(PACE.interval, PACE.max_factor, stretch=3.0)
    assert next_poll(state, tight) == next_poll(state, PACE)  # about to emit: kept
    warming = Cadence(polled_at=START)
    assert next_poll(warming, tight) == START + 3 * PACE.interval  # the rest stretches


def test_outcomes_say_whether_the_prediction_was_right() -> None:
    state = Cadence(last_at=START, gaps=(7.0, 7.0), polled_at=START, expect_at=START + 7)
    found, outcome = observe(state, START + 7.6, [int(START + 7)])
    assert outcome == "hit"
    assert found.expect_at is not None
    empty, early = observe(found, found.expect_at + 0.5, [])
    assert early == "early"
    _, again = observe(empty, found.expect_at + 1.5, [])
    assert again is None  # one outcome per prediction
    _, late = observe(found, START + 9, [int(START + 8)])  # before the prediction
    assert late == "late"


def test_the_state_survives_its_codec_and_garbage_starts_afresh() -> None:
    state = Cadence(START, (6.5, 7.25), START + 1, START + 1, START + 8, 2, 1, True)
    assert decode(state.encode()) == state
    for raw in (None, "", "not json", "[1, 2]", "[99, 1, [], null, null, null, 0, 0, 0]"):
        assert decode(raw) == Cadence()


def test_while_not_running_nothing_is_predicted() -> None:
    state = Cadence(START, (7.0, 7.0), START, START, START + 7)
    assert suspend(state).expect_at is None


def test_a_providers_time_left_seeds_the_period_before_any_gap() -> None:
    assert prior_gap(700.0, 10, 110) == 7.0
    assert prior_gap(None, 10, 110) is None
    assert prior_gap(700.0, 110, 110) is None
    state, _ = observe(Cadence(), START, [int(START)], prior=7.0)
    assert state.expect_at is not None and abs(state.expect_at - (START + 7)) < 1


def test_a_pace_too_fine_for_whole_second_stamps_keeps_the_interval() -> None:
    # Ten steps a second, polled every 0.2 s: one arrival a second is all the stamps show,
    # and waiting for it would read events later than every interval does.
    times = steady(0.1, 0.05, 300)
    fine = Pace(interval=0.2, max_factor=6.0)
    run = simulate(times, times[-1], fine)
    gaps = [b - a for a, b in pairwise(run.polls)]
    assert max(gaps) <= 0.2 + 1e-6
