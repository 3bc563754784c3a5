"""Poll cadence by status."""

from __future__ import annotations

import pytest

from service.models.cadence import Cadence
from service.models.lifecycle import Status
from workers.poller.cadence import Watched, budget_stretch, poll_delay, provider_stretches


@pytest.mark.parametrize("status", ["running", "pausing", "resuming", "unknown"])
def test_active_and_unknown_statuses_poll_every_interval(status: Status) -> None:
    assert poll_delay(status, 10, 3) == 10


@pytest.mark.parametrize("status", ["queued", "validating", "paused"])
def test_idle_statuses_poll_less_often(status: Status) -> None:
    assert poll_delay(status, 10, 3) == 30


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled"])
def test_terminal_jobs_are_dropped(status: Status) -> None:
    assert poll_delay(status, 10, 3) is None


def test_without_a_budget_delays_are_not_stretched() -> None:
    assert budget_stretch({"running": 10_000}, interval=10, idle_factor=3, rate=None) == 1


def test_a_fleet_within_the_budget_is_polled_at_the_usual_cadence() -> None:
    fleet: dict[Status, int] = {"running": 500, "queued": 300, "succeeded": 50}
    # 500/10 + 300/30 = 60 requests/s, under 90% of 100.
    assert budget_stretch(fleet, interval=10, idle_factor=3, rate=100) == 1


def test_a_fleet_above_the_budget_is_slowed_in_proportion() -> None:
    fleet: dict[Status, int] = {"running": 7_000, "queued": 1_000, "succeeded": 2_000}
    stretch = budget_stretch(fleet, interval=10, idle_factor=3, rate=100, sweep_rate=3)
    demand = 7_000 / 10 + 1_000 / 30 + 3
    assert stretch == pytest.approx(demand / 90)
    # Stretched delays fit the budget's planned share, running still 3x as often as queued.
    assert 7_000 / (10 * stretch) + 1_000 / (30 * stretch) + 3 / stretch <= 90.0001


def test_running_jobs_are_priced_at_their_own_pace() -> None:
    fleet: dict[Status, int] = {"running": 1_000}
    # A step a minute: about 1.5 polls a minute each, not one per 10 s interval.
    slow = [Cadence(gaps=(60.0, 60.0, 60.0))] * 1_000
    uniform = budget_stretch(fleet, interval=10, idle_factor=3, rate=50)
    priced = budget_stretch(fleet, interval=10, idle_factor=3, rate=50, running=slow)
    assert uniform == pytest.approx(100 / 45)
    assert priced == 1  # 25 requests/s fit the budget
    # Jobs still learning their pace cost a poll per interval.
    learning = [Cadence()] * 1_000
    assert budget_stretch(
        fleet, interval=10, idle_factor=3, rate=50, running=learning
    ) == pytest.approx(uniform)


def test_each_provider_is_stretched_against_its_own_budget() -> None:
    jobs = [Watched("tight", "running", Cadence()) for _ in range(200)]
    jobs += [Watched("roomy", "running", Cadence()) for _ in range(200)]
    rates = {"tight": 5.0, "roomy": 100.0, "unlimited": None}
    stretch = provider_stretches(jobs, rates, interval=10, idle_factor=3, discovery_interval=30)
    # 200 jobs every 10 s + 3 listing pages a minute: 20.1 requests/s against 4.5.
    assert stretch["tight"] == pytest.approx((20 + 3 / 30) / 4.5)
    assert stretch["roomy"] == 1
    assert stretch["unlimited"] == 1
