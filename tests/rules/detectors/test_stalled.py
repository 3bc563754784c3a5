from __future__ import annotations

from tests.rules.factories import T0, event
from workers.rules.detectors.stalled import StalledState, step, tick
from workers.rules.when import Stalled

LIMIT = Stalled.model_validate({"for": "30m"})


def test_a_running_job_quiet_for_longer_than_the_limit_is_stalled() -> None:
    seen_running = StalledState(since=T0 - 3600)
    state, verdict = tick(LIMIT, seen_running, T0, "running", T0 - 600)
    assert verdict is None
    state, verdict = tick(LIMIT, state, T0 + 1500, "running", T0 - 600)
    assert verdict is not None
    assert verdict.reason == "no new event for 35m while running (limit 30m)"
    assert verdict.values == {"seconds_since_event": 2100.0, "limit_seconds": 1800.0}
    assert state.active


def test_the_clock_starts_when_the_job_is_first_seen_running() -> None:
    # The last event came before a long pause: resuming is not stalling.
    state, verdict = tick(LIMIT, StalledState(), T0, "running", T0 - 86_400)
    assert verdict is None
    state, verdict = tick(LIMIT, state, T0 + 1799, "running", T0 - 86_400)
    assert verdict is None
    state, verdict = tick(LIMIT, state, T0 + 1800, "running", T0 - 86_400)
    assert verdict is not None


def test_other_statuses_and_new_events_clear_it() -> None:
    state, verdict = tick(LIMIT, StalledState(since=T0 - 7200), T0, "paused", T0 - 7200)
    assert verdict is None and state == StalledState()
    state, _ = tick(LIMIT, StalledState(), T0, "running", T0 - 7200)
    state, verdict = tick(LIMIT, state, T0 + 3600, "running", T0 - 7200)
    assert state.active
    state, verdict = step(LIMIT, state, event(1))
    assert verdict is None and not state.active
    state, verdict = tick(LIMIT, state, T0 + 3700, "running", T0 + 3650)
    assert verdict is None and not state.active


def test_other_talking_statuses_can_be_watched() -> None:
    stuck = Stalled.model_validate({"for": 600, "statuses": ["pausing", "resuming"]})
    state, _ = tick(stuck, StalledState(), T0, "pausing", None)
    _, verdict = tick(stuck, state, T0 + 601, "pausing", None)
    assert verdict is not None
    assert verdict.reason == "no new event for 10m1s while pausing (limit 10m)"
