"""The chaos fleet's expectations hold without chaos: each job fires its rule, early, and no other.

Each job is played to its end on a manual clock with nobody acting on it, and its
events go through the real rules engine. A job meant to be paused or cancelled must
fire its rule by step 14 with 30 steps to spare, so a detection delayed by the chaos
still finds it running; every other rule stays silent (`finished` fires at the end).
At the chaos test's poll interval the cadence model times the polls of the sparse jobs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from service.models import lifecycle
from service.models.cadence import Cadence, Pace, next_poll, observe
from service.models.event import NormalizedEvent
from service.settings import Settings
from service.upstream.models import Job, JobEvent
from service.upstream.normalize import normalize
from simulator.platform import ManualClock, Platform
from simulator.scenario import Scenario
from tests.chaos.cluster import chaos_env
from tests.chaos.fleet import (
    MIX,
    SPARSE_STEP_PERIOD,
    STEP_PERIOD,
    ChaosJob,
    build_fleet,
    rules_text,
)
from workers.rules.config import RulesFile
from workers.rules.engine import RuleState, evaluate
from workers.rules.loading import parse_rules_text

RULES = parse_rules_text(rules_text("http://127.0.0.1:9/ops"))
RULE_OF = {"plateau": "reward-plateau", "grader": "grader-errors", "diverging": "loss-divergence"}
LATEST_FIRING_STEP = 14
STEPS_TO_SPARE = 30


def play(job: ChaosJob) -> list[NormalizedEvent]:
    """Every event of the job, oldest first, as a poll would have stamped it while running."""
    clock = ManualClock()
    platform = Platform(Scenario(jobs=[job.spec]), now=clock.now, wall=clock.wall)
    while not Job.model_validate(platform.get_job(job.id)).is_terminal:
        clock.advance(STEP_PERIOD)
    final = Job.model_validate(platform.get_job(job.id))
    running = final.model_copy(update={"status": "running"})
    events = platform.events(job.id)[::-1]
    stamped = [normalize(running, JobEvent.model_validate(raw)) for raw in events[:-1]]
    return [*stamped, normalize(final, JobEvent.model_validate(events[-1]))]


def firings(rules: RulesFile, events: list[NormalizedEvent]) -> dict[str, list[int | None]]:
    """Steps at which each rule fired."""
    fired: dict[str, list[int | None]] = {}
    for rule in rules.rules:
        state: RuleState | None = None
        for event in events:
            state, verdict = evaluate(rule, state, event, float(event.created_at))
            if verdict is not None:
                fired.setdefault(rule.name, []).append(event.step)
    return fired


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_job_fires_its_own_rule_early_and_no_other(seed: int) -> None:
    fleet = build_fleet(seed)
    assert len(fleet) == sum(MIX.values()) == 50
    for job in fleet:
        fired = firings(RULES, play(job))
        rule = RULE_OF.get(job.kind)
        assert set(fired) == ({rule, "finished"} - {None}), (job.kind, job.id, fired)
        assert len(fired["finished"]) == 1
        if rule is not None:
            [step] = fired[rule]
            assert step is not None and step <= LATEST_FIRING_STEP, (job.kind, step)
            assert job.spec.total_steps - step >= STEPS_TO_SPARE


def test_the_same_seed_builds_the_same_fleet() -> None:
    assert build_fleet(5) == build_fleet(5)
    assert build_fleet(5) != build_fleet(6)


def polls_while_running(job: ChaosJob, pace: Pace) -> int:
    """Poll the job on a manual clock when the cadence model says, as the poller does."""
    clock = ManualClock()
    platform = Platform(Scenario(jobs=[job.spec]), now=clock.now, wall=clock.wall)
    state, seen, polls = Cadence(), 0, 0
    for _ in range(1000):  # a job of 14 steps needs a few dozen polls
        status = lifecycle.from_openai(platform.get_job(job.id)["status"])
        if lifecycle.is_terminal(status):
            return polls
        events = platform.events(job.id)[::-1]
        state, _ = observe(state, clock.wall(), [e["created_at"] for e in events[seen:]])
        seen = len(events)
        due = clock.wall() + pace.interval
        if lifecycle.is_running(status):
            polls += 1
            due = next_poll(state, pace)
        clock.advance(due - clock.wall())
    raise AssertionError(f"{job.id} never finished")


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_at_the_chaos_interval_the_model_polls_sparse_jobs_about_once_a_step(seed: int) -> None:
    env = chaos_env("redis://", "http://sim", Path("rules"), "secret")
    interval = float(env["FTWATCH_POLL_INTERVAL"])
    pace = Pace(interval, Settings.model_fields["max_poll_factor"].default)
    sparse = [job for job in build_fleet(seed) if job.spec.step_period == SPARSE_STEP_PERIOD]
    steps = sum(job.spec.total_steps for job in sparse)
    polls = sum(polls_while_running(job, pace) for job in sparse)
    # Every interval would be 2 polls a step; timed by the model, one (+ some follow-ups).
    assert steps <= polls <= 0.75 * steps * SPARSE_STEP_PERIOD / interval, (polls, steps)
