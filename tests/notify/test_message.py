"""The one readable line per notification, and the phrases every format reuses."""

from __future__ import annotations

import math

from service.models.firing import ActionResult, JobFacts
from tests.notify.samples import CHECKPOINT, REASON, plateau_firing
from workers.notify.message import (
    best_text,
    describe_actions,
    description,
    format_number,
    headline,
    severity,
    summary_line,
)


def test_summary_line_names_rule_job_reason_checkpoint_and_outcomes() -> None:
    assert summary_line(plateau_firing()) == (
        "[reward-plateau] ftjob-abc123 (o4-mini-2025-04-16, reinforcement) step 40: "
        f"{REASON}; best checkpoint {CHECKPOINT} → pause ok, notify ops queued"
    )


def test_summary_line_is_one_line_even_when_the_reason_has_newlines() -> None:
    line = summary_line(plateau_firing(reason="loss is NaN\n\tat step 12\r\n", checkpoint=None))
    assert "\n" not in line
    assert "\r" not in line
    assert "loss is NaN at step 12 →" in line


def test_summary_line_marks_resolved_and_dry_run() -> None:
    line = summary_line(plateau_firing(resolved=True, dry_run=True, reason="job resumed"))
    assert line.startswith("[reward-plateau · resolved · dry run] ftjob-abc123")


def test_summary_line_leaves_out_unknown_job_facts_and_empty_actions() -> None:
    firing = plateau_firing(job=JobFacts(id="ftjob-x"), actions=[], checkpoint=None)
    assert summary_line(firing) == f"[reward-plateau] ftjob-x: {REASON}"


def test_a_failed_action_says_why() -> None:
    actions = [
        ActionResult(action="pause", outcome="failed", detail="HTTP 500:\nupstream error"),
        ActionResult(action="resume", outcome="scheduled", detail="in 10m"),
        ActionResult(action="cancel", outcome="dry_run"),
    ]
    assert describe_actions(actions) == (
        "pause failed (HTTP 500: upstream error), resume scheduled (in 10m), cancel dry run"
    )
    assert describe_actions([]) == "no action"


def test_numbers_read_as_people_write_them() -> None:
    assert [format_number(v) for v in (0.612, 40.0, 1.5e-5, -0.0, 123456789.123)] == [
        "0.612",
        "40",
        "1.5e-05",
        "0",
        "1.23457e+08",
    ]
    assert [format_number(v) for v in (math.nan, math.inf, -math.inf)] == ["NaN", "inf", "-inf"]


def test_headline_per_type() -> None:
    assert headline(plateau_firing()) == "Rule reward-plateau fired on ftjob-abc123"
    failed = plateau_firing(type="ftwatch.action.failed")
    assert headline(failed) == "Action failed: reward-plateau on ftjob-abc123"
    finished = plateau_firing(
        type="ftwatch.job.finished",
        rule="finished",
        kind="status",
        job=JobFacts(id="ftjob-abc123", status="succeeded"),
    )
    assert headline(finished) == "Job ftjob-abc123 finished: succeeded"
    assert headline(plateau_firing(resolved=True)) == "Resolved: reward-plateau on ftjob-abc123"
    assert headline(plateau_firing(dry_run=True)).endswith("(dry run)")


def test_severity_depends_on_type_and_kind_so_a_resolve_matches_its_trigger() -> None:
    assert severity(plateau_firing()) == "warning"
    assert severity(plateau_firing(resolved=True, actions=[])) == "warning"
    assert severity(plateau_firing(kind="threshold")) == "critical"
    assert severity(plateau_firing(type="ftwatch.action.failed")) == "error"
    assert severity(plateau_firing(type="ftwatch.job.finished", kind="status")) == "info"
    failed_job = JobFacts(id="ftjob-abc123", status="failed")
    finished = plateau_firing(type="ftwatch.job.finished", kind="status", job=failed_job)
    assert severity(finished) == "error"


def test_the_rules_severity_wins_for_a_firing_and_its_resolve() -> None:
    assert severity(plateau_firing(kind="threshold", severity="info")) == "info"
    assert severity(plateau_firing(severity="critical", resolved=True)) == "critical"
    # A failed action is an error whatever the rule's severity: the action did not happen.
    assert severity(plateau_firing(severity="info", type="ftwatch.action.failed")) == "error"


def test_best_names_what_is_known() -> None:
    assert best_text(plateau_firing()) == f"best 0.615 at step 37, checkpoint {CHECKPOINT}"
    assert best_text(plateau_firing(best=None, best_step=None)) == f"best checkpoint {CHECKPOINT}"
    assert best_text(plateau_firing(checkpoint=None, best_step=None)) == "best 0.615"
    assert best_text(plateau_firing(best=None, best_step=None, checkpoint=None)) is None


def test_description_lists_reason_values_best_and_actions() -> None:
    assert description(plateau_firing()).splitlines() == [
        REASON,
        "Job: ftjob-abc123 (o4-mini-2025-04-16, reinforcement) step 40",
        "Metadata: run=nightly-7, team=search",
        "Values: best=0.615, valid_reward_mean=0.612",
        f"Best: 0.615 at step 37, checkpoint {CHECKPOINT}",
        "Actions: pause ok, notify ops queued",
    ]
