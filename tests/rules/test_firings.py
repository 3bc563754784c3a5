from __future__ import annotations

import math

from service.models.firing import Firing
from service.models.job import JobSnapshot
from tests.rules.factories import event, rule
from workers.rules.engine import evaluate, firing_id, tick
from workers.rules.firings import build_firing, facts_of_event, facts_of_snapshot


def test_a_firing_records_rule_job_reason_values_and_the_best_step() -> None:
    the_rule = rule({"threshold": {"metric": "train_loss", "non_finite": True}}, dry_run=True)
    first = event(10, train_loss=0.4, method="supervised", metadata={"team": "a"})
    state, _ = evaluate(the_rule, None, first, 1.0)
    bad = event(11, train_loss=math.nan, method="supervised", metadata={"team": "a"})
    state, verdict = evaluate(the_rule, state, bad, 2.0)
    assert verdict is not None
    firing = build_firing(
        the_rule, state, verdict, job=facts_of_event(bad), fired_at=2.5, event=bad
    )
    assert firing.firing_id == firing_id("r", bad.key, 1)
    assert (firing.rule, firing.kind, firing.dry_run) == ("r", "threshold", True)
    assert firing.severity == "warning"  # the rule's default
    assert firing.reason == "train_loss nan is not finite at step 11; best 0.4 at step 10"
    assert (firing.best, firing.best_step) == (0.4, 10)
    assert firing.job.method == "supervised" and firing.job.step == 11
    assert firing.job.metadata == {"team": "a"}
    assert (firing.event_id, firing.event_created_at, firing.fired_at) == (
        bad.event_id,
        bad.created_at,
        2.5,
    )
    again = Firing.model_validate_json(firing.model_dump_json())
    assert math.isnan(again.values["train_loss"])


def test_a_snapshot_firing_names_the_fine_tuned_model() -> None:
    the_rule = rule({"status": "succeeded"})
    job = JobSnapshot(job_id="ftjob-9", status="succeeded", step=300, fine_tuned_model="ft:x")
    state, verdict = tick(the_rule, None, job, 5.0)
    assert verdict is not None
    firing = build_firing(the_rule, state, verdict, job=facts_of_snapshot(job), fired_at=5.0)
    assert firing.job.fine_tuned_model == "ft:x"
    assert firing.job.step == 300
    assert firing.event_id is None
