"""The demo scenario and generated fleets."""

from __future__ import annotations

import math

from simulator.platform import ManualClock, Platform
from simulator.presets import (
    DEMO_DIVERGES,
    DEMO_GRADER_ERRORS,
    DEMO_PLATEAU,
    DEMO_SUCCEEDS,
    default_scenario,
    generate_scenario,
)
from simulator.scenario import Scenario


def play(scenario: Scenario, seconds: float) -> Platform:
    clock = ManualClock()
    platform = Platform(scenario, now=clock.now, wall=clock.wall)
    clock.advance(seconds)
    return platform


def series(platform: Platform, job_id: str, key: str) -> dict[int, float]:
    out = {}
    for event in platform.events(job_id):
        data = event["data"] or {}
        value = data.get(key, data.get("scores", {}).get(key))
        if value is not None:
            out[data["step"]] = value
    return out


def test_demo_tells_its_four_stories_within_20_to_40_seconds() -> None:
    scenario = default_scenario()
    assert [job.id for job in scenario.jobs] == [
        DEMO_PLATEAU,
        DEMO_GRADER_ERRORS,
        DEMO_SUCCEEDS,
        DEMO_DIVERGES,
    ]
    assert not play(scenario, 19.0).summary()["all_terminal"]
    platform = play(default_scenario(), 22.0)
    assert platform.summary()["all_terminal"]
    assert [platform.get_job(j)["status"] for j in platform.job_ids()] == [
        "succeeded",
        "succeeded",
        "succeeded",
        "failed",
    ]
    valid = series(platform, DEMO_PLATEAU, "valid_reward_mean")
    assert max(valid.values()) - valid[12] < 0.01 and valid[12] - valid[2] > 0.2
    format_errors = {}
    for event in platform.events(DEMO_GRADER_ERRORS):
        if event["type"] == "metrics":
            graders = event["data"]["errors"]["graders"]
            format_errors[event["data"]["step"]] = graders[0]["train_sample_parse_error_mean"]
    assert [s for s, rate in sorted(format_errors.items()) if rate > 0] == list(range(6, 14))
    loss = series(platform, DEMO_DIVERGES, "train_loss")
    assert loss[13] < 5.0 < loss[14] and math.isnan(loss[24])
    assert series(platform, DEMO_SUCCEEDS, "train_loss")[30] < 0.5


def test_generated_fleets_are_deterministic_and_mixed() -> None:
    one = generate_scenario(60, seed=5, running_share=0.75)
    assert one == generate_scenario(60, seed=5, running_share=0.75)
    assert one != generate_scenario(60, seed=6, running_share=0.75)
    assert {job.method for job in one.jobs} == {"reinforcement", "supervised", "dpo"}
    assert len({job.id for job in one.jobs}) == 60
    platform = play(one, 0.0)
    statuses = [platform.get_job(job_id)["status"] for job_id in platform.job_ids()]
    running = statuses.count("running")
    assert 35 <= running <= 55 and running + statuses.count("succeeded") >= 50
    assert all(len(platform.events(job_id)) > 4 for job_id in platform.job_ids())
