"""A job's stored rules read once as parsed states, then moved on event by event (pure)."""

from __future__ import annotations

from service.store.rule_state import StoredRules
from workers.rules.detectors.threshold import ThresholdState
from workers.rules.engine import RuleState
from workers.rules.loading import parse_rules_text
from workers.rules.state_codec import dump_state
from workers.rules.view import RulesView, view_of

RULES = parse_rules_text("""
rules:
  - {name: kept, when: {threshold: {metric: train_loss, above: 5}}, do: [cancel]}
  - {name: old, when: {threshold: {metric: train_loss, above: 5}}, do: [cancel]}
  - {name: new, when: {threshold: {metric: train_loss, above: 5}}, do: [cancel]}
""").rules
STATE = RuleState(detector=ThresholdState(active=True), episode=2)


def test_the_rules_states_are_parsed_and_the_rest_left_out() -> None:
    stored = StoredRules(
        version="3",
        last_seq=8,
        states={"kept": dump_state(STATE), "old": '{"detector": {"kind": "gone"}}', "gone": "{"},
        resumes={"kept": 1},
    )
    view = view_of(stored, RULES)
    assert view == RulesView(last_seq=8, states={"kept": STATE}, resumes={"kept": 1})
    assert view.state("old") is None and view.state("new") is None


def test_a_decided_event_moves_the_view_on() -> None:
    view = RulesView(last_seq=8, states={"kept": STATE}, resumes={"kept": 1})
    later = view.after(9, {"new": STATE}, ["kept", "new"])
    assert later == RulesView(9, {"kept": STATE, "new": STATE}, {"kept": 2, "new": 1})
    assert view == RulesView(last_seq=8, states={"kept": STATE}, resumes={"kept": 1})
