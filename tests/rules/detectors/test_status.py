from __future__ import annotations

from service.models.lifecycle import Status
from tests.rules.factories import event
from workers.rules.detectors.status import StatusState, observe, step

FINISHED: list[Status] = ["succeeded", "failed", "cancelled"]


def test_a_listed_status_holds_until_the_job_leaves_it() -> None:
    state, verdict = observe(FINISHED, StatusState(), "running")
    assert verdict is None and not state.active
    state, verdict = observe(FINISHED, state, "failed")
    assert verdict is not None
    assert verdict.reason == "job status is failed"
    assert verdict.details == {"status": "failed"}
    state, verdict = observe(["paused"], StatusState(status="paused", active=True), "running")
    assert verdict is None and not state.active


def test_an_unknown_status_is_no_evaluation() -> None:
    state = StatusState(status="succeeded", active=True)
    assert observe(FINISHED, state, None) == (state, None)
    assert step(FINISHED, state, event(1, status=None)) == (state, None)


def test_events_carry_the_status() -> None:
    _, verdict = step(FINISHED, StatusState(), event(None, status="succeeded"))
    assert verdict is not None
