"""The chaos plan is a pure function of its seed and keeps the spacing the judging relies on."""

from __future__ import annotations

import itertools

import pytest

from tests.chaos.cluster import ROLES
from tests.chaos.schedule import build_plan

PROCESSES = sorted(ROLES["split"])


def test_the_same_seed_plans_the_same_chaos() -> None:
    assert build_plan(4, PROCESSES) == build_plan(4, PROCESSES)
    assert build_plan(4, PROCESSES) != build_plan(5, PROCESSES)


@pytest.mark.parametrize("intensity", [1.0, 2.0])
def test_every_kind_of_disruption_happens_inside_the_window(intensity: float) -> None:
    plan = build_plan(7, PROCESSES, window=30.0, intensity=intensity)
    counts = plan.count()
    assert counts["kill"] == 6 * intensity and counts["redis"] == 2 * intensity
    assert counts["upstream"] == 3 * intensity and counts["receiver"] == 2
    assert all(d.at > 0 and d.at + d.down <= 30.0 + 5.0 for d in plan.disruptions)
    assert all(d.target != "api" for d in plan.disruptions if d.kind == "kill")


def test_receiver_outages_outlast_several_retries_and_end_before_the_next() -> None:
    # The chaos env retries after 0.5, 1, 2 and then every 3 s: an outage of 3 s or more
    # fails a notice several times, and ends before the next outage starts.
    for seed in range(20):
        outages = [d for d in build_plan(seed, PROCESSES).disruptions if d.kind == "receiver"]
        assert all(3.0 <= d.down <= 8.0 for d in outages)
        assert all(b.at - a.at >= 10.0 for a, b in itertools.pairwise(outages))
