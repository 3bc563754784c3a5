"""The chaos fleet's expectations hold without chaos: each job fires its rule, early, and no other.

Each job is played to its end on a manual clock with nobody acting on it, and its
events go through the real rules engine. A job meant to be paused or cancelled must
fire its rule by step 14 with 30 steps to spare, so a detection delayed by the chaos
still finds it running; every other rule stays silent (`finished` fires at the end).
"""

from __future__ import annotations

import pytest

from service.models.event import NormalizedEvent
from service.upstream.models import Job, JobEvent
from service.upstream.normalize import normalize
from simulator.platform import ManualClock, Platform
from simulator.scenario import Scenario
from tests.chaos.fleet import MIX, STEP_PERIOD, ChaosJob, build_fleet, rules_text
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
