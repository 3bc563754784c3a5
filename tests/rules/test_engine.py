from __future__ import annotations

import math
from typing import Any

from service.models.event import NormalizedEvent
from service.models.job import JobSnapshot
from tests.rules.factories import T0, event, rule
from workers.rules.config import Rule
from workers.rules.detectors.base import Verdict
from workers.rules.detectors.plateau import PlateauState
from workers.rules.engine import (
    RuleState,
    evaluate,
    firing_id,
    fit_state,
    initial_state,
    on_resumed,
    tick,
)

LOSS = {"threshold": {"metric": "train_loss", "above": 5.0}}


def feed(
    the_rule: Rule, events: list[NormalizedEvent], state: RuleState | None = None
) -> tuple[RuleState, list[Verdict | None]]:
    verdicts = []
    for item in events:
        state, verdict = evaluate(the_rule, state, item, float(item.created_at))
        verdicts.append(verdict)
    assert state is not None
    return state, verdicts


def losses(values: list[float], start: int = 1, **more: Any) -> list[NormalizedEvent]:
    return [event(start + i, train_loss=v, **more) for i, v in enumerate(values)]


def fired_at(verdicts: list[Verdict | None]) -> list[int]:
    return [i for i, v in enumerate(verdicts) if v is not None]


def test_a_rule_fires_once_per_episode_and_re_arms_when_the_condition_clears() -> None:
    the_rule = rule(LOSS)
    state, verdicts = feed(the_rule, losses([6, 7, 8, 1, 9, 9]))
    assert fired_at(verdicts) == [0, 4]
    assert (state.fired_count, state.episode, state.armed) == (2, 2, False)


def test_a_plateau_that_persists_fires_once_and_again_only_after_an_improvement() -> None:
    the_rule = rule({"plateau": {"metric": "valid_reward_mean", "patience": 2}})
    values = [0.5, 0.4, 0.4, 0.4, 0.4, 0.6, 0.5, 0.5]
    _, verdicts = feed(the_rule, [event(i, valid_reward_mean=v) for i, v in enumerate(values)])
    assert fired_at(verdicts) == [2, 7]


def test_each_episode_has_its_own_stable_firing_id() -> None:
    assert firing_id("r", "ftjob-1", 1) == firing_id("r", "ftjob-1", 1)
    ids = {firing_id("r", "ftjob-1", 1), firing_id("r", "ftjob-1", 2), firing_id("r", "ftjob-2", 1)}
    ids.add(firing_id("r2", "ftjob-1", 1))
    assert len(ids) == 4
    assert firing_id("r", "ftjob-1", 1).startswith("fir_")


def test_cooldown_silences_the_rule_for_a_while_after_firing() -> None:
    the_rule = rule(LOSS, cooldown="10m")
    # Steps are 60 s apart: step 1 fires, 2 clears, 3-10 breach within the cooldown.
    state, verdicts = feed(the_rule, losses([9, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9]))
    assert fired_at(verdicts) == [0, 10]  # first breach at or after T0 + 60 + 600
    assert state.cooldown_until == T0 + 60 * 11 + 600


def test_a_verdict_during_cooldown_fires_once_it_is_over_if_still_true() -> None:
    the_rule = rule(LOSS, cooldown="5m")
    _, verdicts = feed(the_rule, losses([9, 1, 9, 1, 1, 1, 9]))
    assert fired_at(verdicts) == [0, 6]


def test_resuming_re_arms_and_gives_the_detector_a_fresh_start() -> None:
    the_rule = rule({"threshold": {"metric": "train_loss", "above": 5.0, "consecutive": 2}})
    state, verdicts = feed(the_rule, losses([9, 9, 9]))
    assert fired_at(verdicts) == [1]
    state = on_resumed(state)
    assert (state.armed, state.episode) == (True, 2)
    state, verdicts = feed(the_rule, losses([9, 9], start=4), state)
    assert fired_at(verdicts) == [1]  # needs two breaches again after the resume


def test_a_resume_is_noticed_from_the_job_status_of_events() -> None:
    the_rule = rule(LOSS)
    state, verdicts = feed(the_rule, losses([9, 9], status="paused"))
    assert fired_at(verdicts) == [0]
    state, verdicts = feed(the_rule, losses([9], start=3, status="paused"), state)
    assert fired_at(verdicts) == []
    state, verdicts = feed(the_rule, losses([9], start=4, status="running"), state)
    assert fired_at(verdicts) == [0]
    assert state.episode == 2


def test_resuming_a_rule_that_never_fired_keeps_its_episode() -> None:
    state = on_resumed(initial_state(rule(LOSS)))
    assert (state.armed, state.episode) == (True, 1)


def test_jobs_the_rule_does_not_match_are_left_alone() -> None:
    the_rule = rule(LOSS, match={"method": "supervised", "metadata": {"team": "search"}})
    state, verdicts = feed(
        the_rule, losses([9], method="reinforcement", metadata={"team": "search"})
    )
    assert verdicts == [None] and state == initial_state(the_rule)
    _, verdicts = feed(the_rule, losses([9], method="supervised", metadata={"team": "ads"}))
    assert verdicts == [None]
    _, verdicts = feed(the_rule, losses([9], method="supervised", metadata={"team": "search"}))
    assert fired_at(verdicts) == [0]


def test_a_stalled_rule_is_driven_by_ticks_and_cleared_by_events() -> None:
    the_rule = rule({"stalled": {"for": "30m"}})
    job = JobSnapshot(job_id="ftjob-1", status="running", last_event_at=T0)
    state, verdict = tick(the_rule, None, job, T0)
    assert verdict is None
    state, verdict = tick(the_rule, state, job, T0 + 1800)
    assert verdict is not None and verdict.reason.startswith("no new event for 30m")
    state, verdict = tick(the_rule, state, job, T0 + 3600)
    assert verdict is None  # the same episode
    state, _ = evaluate(the_rule, state, event(5, at=T0 + 3700), T0 + 3700)
    assert state.armed and state.episode == 2
    later = job.model_copy(update={"last_event_at": T0 + 3700})
    state, verdict = tick(the_rule, state, later, T0 + 3700 + 1800)
    assert verdict is not None and state.fired_count == 2


def test_a_status_rule_fires_from_a_snapshot_or_an_event_once() -> None:
    the_rule = rule({"status": ["succeeded", "failed"]})
    job = JobSnapshot(job_id="ftjob-1", status="succeeded")
    state, verdict = tick(the_rule, None, job, T0)
    assert verdict is not None and verdict.reason == "job status is succeeded"
    state, verdict = evaluate(the_rule, state, event(None, status="succeeded"), T0 + 1)
    assert verdict is None
    state, verdict = tick(the_rule, state, job, T0 + 2)
    assert verdict is None and state.fired_count == 1


def test_ticks_leave_event_driven_rules_alone_but_notice_resumes() -> None:
    the_rule = rule(LOSS)
    state, _ = feed(the_rule, losses([9], status="running"))
    assert not state.armed
    paused = JobSnapshot(job_id="ftjob-1", status="paused")
    state, verdict = tick(the_rule, state, paused, T0 + 500)
    assert verdict is None and not state.armed
    state, verdict = tick(
        the_rule, state, paused.model_copy(update={"status": "running"}), T0 + 900
    )
    assert verdict is None and state.armed and state.episode == 2


def test_a_state_made_for_another_kind_of_rule_starts_over_without_reusing_episodes() -> None:
    old = RuleState(detector=PlateauState(wait=3, active=True), armed=False, episode=4)
    state = fit_state(rule(LOSS), old)
    assert state.detector.kind == "threshold"
    assert (state.armed, state.episode, state.fired_count) == (True, 5, 0)
    assert fit_state(rule({"plateau": {"metric": "m"}}), old) is old


def test_rule_state_is_json_with_nan() -> None:
    the_rule = rule({"threshold": {"metric": "train_loss", "non_finite": True}}, cooldown=60)
    state, verdicts = feed(the_rule, losses([0.5, math.nan]))
    assert fired_at(verdicts) == [1]
    text = state.model_dump_json()
    assert RuleState.model_validate_json(text) == state
    assert verdicts[1] is not None
    assert math.isnan(
        Verdict.model_validate_json(verdicts[1].model_dump_json()).values["train_loss"]
    )
