"""Resolve notices when a job whose rule fired is resumed or finishes."""

from __future__ import annotations

import redis.asyncio as aioredis

from service.metrics import Metrics
from service.models.event import NormalizedEvent
from service.store.rule_state import RuleStateStore
from service.store.scripts import Scripts
from tests.rules.factories import graders
from workers.rules.engine import RuleState, firing_id, initial_state
from workers.rules.loading import parse_rules_text
from workers.rules.plan import Decision
from workers.rules.resolve import resolve_notices, resolve_reason
from workers.rules.view import RulesView
from workers.rules.worker import RuleWorker

RULES = parse_rules_text("""
receivers:
  - {name: pd, url: "https://events.example.com/v2/enqueue", format: pagerduty, secret_env: PD}
rules:
  - name: errors
    when: {error_rate: {threshold: 0.25, window_steps: 3}}
    do: [pause, {notify: pd}]
  - name: quiet
    when: {error_rate: {threshold: 0.25, window_steps: 3}}
    do: [pause]
""")


def status_event(before: str, after: str) -> NormalizedEvent:
    return NormalizedEvent(
        job_id="ftjob-1",
        event_id=f"s-{after}",
        created_at=5,
        type="status",
        status=after,
        data={"from": before, "to": after},
    )


def fired(rule_name: str) -> RuleState:
    rule = RULES.rule(rule_name)
    assert rule is not None
    return initial_state(rule).model_copy(update={"armed": False, "fired_count": 1, "episode": 2})


def test_resumes_and_finishes_end_incidents_other_changes_do_not() -> None:
    assert resolve_reason(status_event("paused", "queued")) == "job resumed"
    assert resolve_reason(status_event("running", "succeeded")) == "job succeeded"
    assert resolve_reason(status_event("running", "paused")) is None
    assert resolve_reason(status_event("paused", "pausing")) is None


def test_an_open_incident_gets_one_resolve_per_receiver_with_the_firing_id() -> None:
    rule = RULES.rule("errors")
    assert rule is not None
    event = status_event("paused", "running")
    ((receiver, notice),) = resolve_notices(rule, fired("errors"), event, "job resumed", 10.0)
    assert receiver == "pd" and notice.resolved
    assert notice.firing_id == firing_id("errors", "openai:ftjob-1", 2)


def test_nothing_to_resolve_without_a_firing_or_a_receiver() -> None:
    errors, quiet = RULES.rule("errors"), RULES.rule("quiet")
    assert errors is not None and quiet is not None
    event = status_event("paused", "running")
    assert resolve_notices(errors, None, event, "job resumed", 1.0) == []
    assert resolve_notices(errors, initial_state(errors), event, "job resumed", 1.0) == []
    assert resolve_notices(quiet, fired("quiet"), event, "job resumed", 1.0) == []


def test_a_resolve_carries_the_rules_severity_as_its_trigger_did() -> None:
    rules = parse_rules_text("""
receivers:
  - {name: pd, url: "https://events.example.com", format: pagerduty, secret_env: PD}
rules:
  - name: errors
    severity: critical
    when: {error_rate: {threshold: 0.25, window_steps: 3}}
    do: [pause, {notify: pd}]
""")
    rule = rules.rule("errors")
    assert rule is not None
    previous = initial_state(rule).model_copy(update={"armed": False, "fired_count": 1})
    event = status_event("paused", "running")
    ((_, notice),) = resolve_notices(rule, previous, event, "job resumed", 10.0)
    assert notice.severity == "critical"


async def _run(
    redis: aioredis.Redis, rule_name: str, events: list[NormalizedEvent]
) -> list[Decision]:
    """Each event decided by a rule worker on the states the previous ones left."""
    rule = RULES.rule(rule_name)
    assert rule is not None
    rules = RULES.model_copy(update={"rules": [rule]})
    store = RuleStateStore(redis, Scripts(redis), group="rules")
    worker = RuleWorker(rules, store, Metrics(), clock=lambda: 1.0)
    states: dict[str, RuleState] = {}
    decisions = []
    for event in events:
        decision = worker.decide(RulesView(states=dict(states)), event)
        states.update(decision.states)
        decisions.append(decision)
    return decisions


async def test_a_cleared_condition_resolves_the_episode_that_fired(
    redis: aioredis.Redis,
) -> None:
    high = [graders(step, {"g": 0.5}) for step in (1, 2, 3)]
    low = [graders(step, {"g": 0.0}) for step in (4, 5, 6, 7)]
    decisions = await _run(redis, "errors", high + low)
    [fired] = [f for d in decisions for f in d.firings]
    resolves = [(r, n) for d in decisions for r, n in d.deliveries if n.resolved]
    [(receiver, notice)] = resolves  # once, when it re-armed
    assert receiver == "pd"
    assert notice.firing_id == fired.firing_id  # the same incident (dedup_key, webhook id)
    assert notice.reason == "resolved: condition cleared"
