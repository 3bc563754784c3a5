"""From verdicts to firings, tasks, delayed resumes and deliveries (pure)."""

from __future__ import annotations

from service.models.firing import JobFacts
from workers.rules.detectors.base import Verdict
from workers.rules.engine import initial_state
from workers.rules.loading import parse_rules_text
from workers.rules.plan import Decision, Trigger, fire

RULES = parse_rules_text("""
receivers:
  - {name: ops, url: "https://hooks.example.com/x", format: slack}
rules:
  - name: errors
    when: {error_rate: {threshold: 0.25, window_steps: 3}}
    do: [pause, {resume: {after: 10m, max_times: 2}}, {notify: ops}]
  - name: trial
    dry_run: true
    when: {threshold: {metric: train_loss, above: 5}}
    do: [cancel, {notify: ops}]
  - name: finished
    when: {status: [succeeded]}
    do: [{notify: ops}]
""")
VERDICT = Verdict(reason="because", values={"x": 1.0}, best=0.5, best_step=4, step=7)


def trigger(status: str = "running") -> Trigger:
    return Trigger(lambda: JobFacts(id="ftjob-1", status=status, step=7), now=1000.0)


def decide(rule_name: str, *, status: str = "running", resumes: int = 0) -> Decision:
    rule = RULES.rule(rule_name)
    assert rule is not None
    decision = Decision()
    fire(decision, rule, initial_state(rule), VERDICT, trigger(status), resumes_so_far=resumes)
    return decision


def test_a_firing_queues_its_actions_and_schedules_the_resume() -> None:
    decision = decide("errors")
    (firing,) = decision.firings
    assert [(a.action, a.outcome) for a in firing.actions] == [
        ("pause", "queued"),
        ("resume", "scheduled"),
        ("notify:ops", "queued"),
    ]
    assert firing.actions[1].at == 1000.0 + 600
    # The resume rides on the pause: the executor schedules it once the pause took effect.
    assert [(t.action, t.resume_after) for t in decision.tasks] == [("pause", 600)]
    assert decision.delayed == []
    assert decision.tasks[0].firing.firing_id == firing.firing_id
    assert decision.tasks[0].notify == ["ops"]
    assert decision.resumed_by == ["errors"]
    assert [(name, f.firing_id) for name, f in decision.deliveries] == [("ops", firing.firing_id)]
    assert (firing.best, firing.best_step, firing.job.step) == (0.5, 4, 7)


def test_resumes_stop_after_max_times() -> None:
    decision = decide("errors", resumes=2)
    assert decision.delayed == [] and decision.resumed_by == []
    resume = decision.firings[0].actions[1]
    assert (resume.outcome, resume.detail) == ("skipped", "already resumed 2 times by this rule")


def test_dry_run_calls_nothing_but_still_notifies() -> None:
    decision = decide("trial")
    assert decision.tasks == [] and decision.delayed == []
    assert decision.firings[0].actions[0].outcome == "dry_run"
    assert decision.firings[0].dry_run
    assert [name for name, _ in decision.deliveries] == ["ops"]


def test_nothing_is_called_on_a_finished_job() -> None:
    decision = decide("errors", status="succeeded")
    assert decision.tasks == [] and decision.delayed == []
    assert {a.outcome for a in decision.firings[0].actions[:2]} == {"skipped"}


def test_completion_is_a_job_finished_notification() -> None:
    decision = decide("finished", status="succeeded")
    assert decision.firings[0].type == "ftwatch.job.finished"
    assert decide("errors").firings[0].type == "ftwatch.rule.fired"
