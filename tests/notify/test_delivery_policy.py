"""What is retried, when, and when a delivery is given up."""

from __future__ import annotations

import pytest

from workers.notify.delivery import Attempt
from workers.notify.delivery_policy import RetrySchedule, classify, judge, wants

SHORT = RetrySchedule(delays=(1.0, 10.0, 100.0), jitter=0.0, retry_after_cap=50.0, max_total=1000.0)


def failed(at: float = 0.0, **fields: object) -> Attempt:
    return Attempt(at=at, duration=0.1, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("attempt", "kind"),
    [
        (failed(status=200), "ok"),
        (failed(status=204), "ok"),
        (failed(), "ok"),  # the log receiver: no HTTP, no error
        (failed(status=500), "retry"),
        (failed(status=503), "retry"),
        (failed(status=408), "retry"),
        (failed(status=429), "retry"),
        (failed(error="timeout after 10s"), "retry"),
        (failed(error="ClientConnectorError: refused"), "retry"),
        (failed(status=400), "fail"),
        (failed(status=401), "fail"),
        (failed(status=404), "fail"),
        (failed(status=410), "fail"),
        (failed(status=301), "fail"),  # redirects are not followed
        (failed(error="cannot render: no routing key", permanent=True), "fail"),
    ],
)
def test_what_is_retried(attempt: Attempt, kind: str) -> None:
    assert classify(attempt) == kind


def test_the_schedule_grows_and_then_gives_up() -> None:
    history: tuple[Attempt, ...] = ()
    delays = []
    for at in (0.0, 1.0, 11.0, 111.0):
        history = (*history, failed(at=at, status=500))
        judgement = judge(history, since=0.0, schedule=SHORT)
        delays.append(judgement.delay if judgement.verdict == "retry" else None)
    assert delays == [1.0, 10.0, 100.0, None]
    assert judgement.verdict == "dead"
    assert judgement.reason.startswith("gave up after 4 attempts")
    assert "HTTP 500" in judgement.reason


def test_a_refusal_is_dead_at_once_with_its_status() -> None:
    judgement = judge((failed(status=410),), since=0.0, schedule=SHORT)
    assert (judgement.verdict, judgement.reason) == ("dead", "HTTP 410 is not retried")


def test_retry_after_is_a_lower_bound_up_to_the_cap() -> None:
    assert judge((failed(status=429, retry_after=7.0),), 0.0, SHORT).delay == 7.0
    assert judge((failed(status=429, retry_after=0.5),), 0.0, SHORT).delay == 1.0
    assert judge((failed(status=503, retry_after=9999.0),), 0.0, SHORT).delay == 50.0


def test_no_retry_is_scheduled_past_the_total_budget() -> None:
    history = (failed(at=0.0, status=500), failed(at=995.0, status=500))  # +10 s > 1000
    assert judge(history, since=0.0, schedule=SHORT).verdict == "dead"


@pytest.mark.parametrize("rand", [0.0, 0.5, 1.0])
def test_jitter_stays_within_twenty_percent(rand: float) -> None:
    delay = RetrySchedule().next_delay(1, None, 0.0, rand=lambda: rand)
    assert delay is not None
    assert 4.0 <= delay <= 6.0


def test_the_default_schedule_spans_seconds_to_hours_within_half_a_day() -> None:
    schedule = RetrySchedule()
    assert schedule.delays[0] <= 5 and schedule.delays[-1] >= 3600
    assert list(schedule.delays) == sorted(schedule.delays)
    assert 9 * 3600 < sum(schedule.delays) < schedule.max_total <= 12 * 3600
    assert schedule.max_attempts == 9


@pytest.mark.parametrize("delays", [(0.2, 0.2), (5.0, 30.0), (6 * 3600.0,) * 4, (86400.0,) * 3])
def test_configured_delays_are_never_cut_short_by_the_total_budget(
    delays: tuple[float, ...],
) -> None:
    schedule = RetrySchedule.with_delays(delays)
    assert schedule.max_total >= max(12 * 3600, sum(delays) * 1.2)
    elapsed = 0.0
    for failures in range(1, len(delays) + 1):  # every delay at its longest jitter
        delay = schedule.next_delay(failures, None, elapsed, rand=lambda: 1.0)
        assert delay is not None
        assert delay == pytest.approx(delays[failures - 1] * 1.2)
        elapsed += delay
    assert schedule.next_delay(len(delays) + 1, None, elapsed) is None


@pytest.mark.parametrize(
    ("format", "resolved", "sent"),
    [
        ("standard", False, True),
        ("standard", True, False),
        ("slack", True, True),  # a message of its own
        ("alertmanager", True, True),
        ("pagerduty", True, True),
        ("log", True, True),
    ],
)
def test_resolve_notices_go_only_to_formats_that_resolve(
    format: str, resolved: bool, sent: bool
) -> None:
    assert wants(format, resolved) is sent
