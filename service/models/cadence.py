"""A job's event cadence: when its next event is due, and when to poll for it (pure).

Times are epoch seconds. An *arrival* is the events of one upstream second: `created_at`
has one-second resolution, and a step's metrics event and its checkpoint message (or a
burst of events) that come together share it. The model keeps the last few gaps between
arrivals, predicts the next one at the newest arrival plus their median, and polls just
after it; when nothing came it polls again once across the gaps' spread, then backs off
(doubling from the poll interval) up to `interval x max_factor`: every event, expected or
not, is read within that bound of becoming visible (x the budget stretch when one is set).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from itertools import pairwise
from statistics import median
from typing import Literal

Outcome = Literal["hit", "early", "late"]
OUTCOMES: tuple[Outcome, ...] = ("hit", "early", "late")

# Gaps kept per job: enough for a robust median, few enough that a change of pace shows
# within a handful of events.
GAPS_KEPT = 6
# Gaps needed before the model predicts; until then the job is polled every interval.
WARMUP_GAPS = 2
# Upstream `created_at` is whole seconds: an arrival lies somewhere in its second.
RESOLUTION = 1.0
# The first poll after a prediction waits this share of the spread beyond the median
# (never less than half a second, the resolution's share): most events are read by it.
FIRST_SHARE = 0.5
# Polls after a missed prediction that step across the spread before backing off.
FOLLOW_UPS = 2
# The soonest any poll follows the previous one.
MIN_DELAY = 0.1
# Codec version of the stored state (service.store.jobs keeps it in the job hash).
VERSION = 1


@dataclass(frozen=True)
class Pace:
    """The settings a schedule is built from: FTWATCH_POLL_INTERVAL, the cap, the stretch."""

    interval: float
    max_factor: float
    stretch: float = 1.0  # >= 1 when the provider's request budget is short


@dataclass(frozen=True)
class Cadence:
    """What the model remembers of one job (a few numbers, kept in the job hash)."""

    last_at: float | None = None  # estimated time of the newest arrival
    gaps: tuple[float, ...] = ()  # seconds between recent arrivals, oldest first
    polled_at: float | None = None  # when the last poll listed the events
    found_at: float | None = None  # when the last poll that found events listed them
    expect_at: float | None = None  # the predicted next arrival (None: warming up)
    empty: int = 0  # polls since found_at that found nothing
    misses: int = 0  # of them, polls at or after expect_at
    judged: bool = False  # the current prediction's outcome has been counted

    @property
    def period(self) -> float | None:
        """The mean gap between arrivals, once the model has enough of them.

        A mean, not a median: whole-second stamps make a 7.1 s job's gaps 7, 7, 7, 7.5…,
        whose median drifts a tenth a step. Gaps far from the median (a stall, a burst)
        are left out of it.
        """
        if len(self.gaps) < WARMUP_GAPS:
            return None
        middle = median(self.gaps)
        usual = [gap for gap in self.gaps if middle / 2 <= gap <= middle * 2]
        return sum(usual) / len(usual)

    @property
    def spread(self) -> float:
        """How far past the prediction an arrival may come: twice the gaps' median deviation."""
        period = self.period
        if period is None:
            return RESOLUTION
        deviation = median(abs(gap - period) for gap in self.gaps)
        return min(max(2 * deviation, RESOLUTION / 2), period / 2)

    def encode(self) -> str:
        """Compact JSON for the job hash."""
        return json.dumps(
            [
                VERSION,
                self.last_at,
                [round(g, 3) for g in self.gaps],
                self.polled_at,
                self.found_at,
                self.expect_at,
                self.empty,
                self.misses,
                int(self.judged),
            ],
            separators=(",", ":"),
        )


def decode(raw: str | None) -> Cadence:
    """The stored state; a fresh one when absent or unreadable (the model just warms up again)."""
    if not raw:
        return Cadence()
    try:
        version, last, gaps, polled, found, expect, empty, misses, judged = json.loads(raw)
        if version != VERSION:
            return Cadence()
        return Cadence(
            last_at=_time(last),
            gaps=tuple(float(g) for g in gaps if _positive(g))[-GAPS_KEPT:],
            polled_at=_time(polled),
            found_at=_time(found),
            expect_at=_time(expect),
            empty=max(0, int(empty)),
            misses=max(0, int(misses)),
            judged=bool(judged),
        )
    except (ValueError, TypeError):
        return Cadence()


def _time(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _positive(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def prior_gap(seconds_remaining: float | None, step: int | None, total: int | None) -> float | None:
    """Seconds per step from a provider's hint (time left / steps left), when it gives one."""
    if seconds_remaining is None or step is None or total is None or total <= step:
        return None
    if not math.isfinite(seconds_remaining) or seconds_remaining <= 0:
        return None
    return seconds_remaining / (total - step)


def observe(
    state: Cadence, at: float, created: Sequence[int], *, prior: float | None = None
) -> tuple[Cadence, Outcome | None]:
    """Fold one poll (listed at `at`, new events' `created_at`) in; the prediction's outcome.

    An outcome is counted once per prediction: `hit` when the first poll at or after it
    read the arrival, `early` when that poll found nothing yet, `late` when the arrival
    came well before the prediction (read by an earlier poll, or waiting a spread and more).
    """
    seconds = sorted({int(t) for t in created})
    if state.last_at is not None:
        seconds = [t for t in seconds if t > math.floor(state.last_at)]
    if not seconds:
        return _empty_poll(state, at)
    newest = _arrival(seconds[-1], state.polled_at, at, state.expect_at)
    points = [*([] if state.last_at is None else [state.last_at])]
    points += [t + RESOLUTION / 2 for t in seconds[:-1]] + [newest]
    fresh = [b - a for a, b in pairwise(points) if b > a]
    outcome = None if state.judged else _judge(state, at, newest)
    gaps = (*state.gaps, *fresh)[-GAPS_KEPT:]
    learned = replace(state, gaps=gaps)
    step = learned.period or prior
    return (
        Cadence(
            last_at=newest,
            gaps=gaps,
            polled_at=at,
            found_at=at,
            expect_at=None if step is None else newest + step,
        ),
        outcome,
    )


def suspend(state: Cadence) -> Cadence:
    """Drop the prediction while the job is not running (paused, queued): none is due."""
    return replace(state, expect_at=None, misses=0, judged=True)


def _arrival(second: int, previous_poll: float | None, at: float, expect: float | None) -> float:
    """Best estimate of when the arrival stamped `second` became visible, read at `at`.

    It lies in its second and after the previous poll; within that window the prediction,
    when it falls there, is kept: a steady job's phase then stays sharp, not +-half a second.
    """
    low = second if previous_poll is None else max(second, previous_poll)
    high = min(second + RESOLUTION, at)
    if low > high:  # the upstream's clock is off ours: trust ours
        return min(second + RESOLUTION / 2, at)
    if expect is not None:
        return min(max(expect, low), high)
    return (low + high) / 2


def _judge(state: Cadence, at: float, arrived: float) -> Outcome | None:
    expect = state.expect_at
    if expect is None:
        return None
    if at < expect or arrived < expect - state.spread - RESOLUTION:
        return "late"
    return "hit"


def _empty_poll(state: Cadence, at: float) -> tuple[Cadence, Outcome | None]:
    due = state.expect_at is not None and at >= state.expect_at
    outcome: Outcome | None = "early" if due and not state.judged else None
    changed = replace(
        state,
        polled_at=at,
        empty=state.empty + 1,
        misses=state.misses + int(due),
        judged=state.judged or due,
    )
    return changed, outcome


def next_poll(state: Cadence, pace: Pace) -> float:
    """When to poll next (epoch s), after the poll `state` last saw.

    Never more often than every `interval` on average since the last arrival (so never
    more requests than polling every interval), never later than `interval x max_factor`
    after the last poll. Under a short budget (`stretch` > 1) the predicted polls keep
    their time and everything else stretches: a job about to emit is read before one
    that just did.
    """
    now = state.polled_at or 0.0
    interval = pace.interval * pace.stretch
    bound = now + pace.interval * pace.max_factor * pace.stretch
    floor = now
    if state.found_at is not None:
        floor = state.found_at + (state.empty + 1) * interval
    target = _target(state, pace, now)
    return min(max(target, floor, now + min(MIN_DELAY, pace.interval)), bound)


def _target(state: Cadence, pace: Pace, now: float) -> float:
    expect, spread = state.expect_at, state.spread
    # Warming up, or a pace too fine for whole-second stamps to time within one interval
    # (sub-second intervals, events many times a second): every interval, as before.
    if expect is None or spread + RESOLUTION / 2 > pace.interval:
        return now + pace.interval * pace.stretch
    if state.misses == 0:
        return expect + max(RESOLUTION / 2, FIRST_SHARE * spread)
    if state.misses <= FOLLOW_UPS:
        return expect + state.misses * spread + RESOLUTION / 2
    # Later than the gaps ever were: the job changed pace or stopped; back off.
    doublings = min(state.misses - FOLLOW_UPS - 1, 30)  # the cap binds long before
    return now + pace.interval * pace.stretch * 2.0**doublings


def request_rate(state: Cadence, interval: float) -> float:
    """Requests per second this job is expected to cost (for the budget's census)."""
    period = state.period
    if period is None or period <= interval:
        return 1 / interval
    # One poll per arrival plus the follow-up that some arrivals need.
    return min(1 / interval, 1.5 / period)
