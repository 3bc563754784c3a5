from __future__ import annotations

from typing import Any

import pytest

from workers.rules.actions_spec import NotifyAction, PauseAction, ResumeAction
from workers.rules.config import Match
from workers.rules.errors import RulesError
from workers.rules.loading import parse_rules


def one_rule(**fields: Any) -> dict[str, Any]:
    return {"name": "r", "when": {"status": "failed"}, "do": [{"notify": "log"}], **fields}


def errors_of(doc: dict[str, Any]) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules(doc)
    return caught.value.errors


@pytest.mark.parametrize(
    ("match", "method", "model", "metadata", "expected"),
    [
        ({}, None, None, None, True),
        ({"method": "reinforcement"}, "reinforcement", "o4-mini", {}, True),
        ({"method": "reinforcement"}, "supervised", "o4-mini", {}, False),
        ({"method": "reinforcement"}, None, "o4-mini", {}, False),
        ({"method": ["supervised", "dpo"]}, "dpo", "gpt-4.1", {}, True),
        ({"model": "o4-mini*"}, "reinforcement", "o4-mini-2025-04-16", {}, True),
        ({"model": "o4-mini*"}, "reinforcement", "gpt-4o-mini", {}, False),
        ({"model": "o4-mini*"}, "reinforcement", None, {}, False),
        ({"model": ["gpt-4.1*", "o4-mini"]}, "supervised", "o4-mini", {}, True),
        ({"model": "O4-MINI*"}, "supervised", "o4-mini", {}, False),  # globs are case-sensitive
        ({"metadata": {"team": "search"}}, None, None, {"team": "search", "run": "7"}, True),
        ({"metadata": {"team": "search"}}, None, None, {"team": "ads"}, False),
        ({"metadata": {"team": "search"}}, None, None, None, False),
        (
            {"method": "reinforcement", "model": "o4*", "metadata": {"team": "search"}},
            "reinforcement",
            "o4-mini",
            {"team": "search"},
            True,
        ),
    ],
)
def test_match_requires_every_given_key(
    match: dict[str, Any],
    method: str | None,
    model: str | None,
    metadata: dict[str, str] | None,
    expected: bool,
) -> None:
    rule = parse_rules({"rules": [one_rule(match=match)]}).rules[0]
    assert rule.match is not None
    assert rule.match.matches(method, model, metadata) is expected
    assert rule.applies_to(method, model, metadata) is expected


def test_a_rule_without_match_applies_to_every_job() -> None:
    rule = parse_rules({"rules": [one_rule()]}).rules[0]
    assert rule.match is None
    assert rule.applies_to(None, None, None)
    assert Match().matches("dpo", "x", {})


@pytest.mark.parametrize(
    ("do", "kinds", "described"),
    [
        (["pause"], [PauseAction], ["pause"]),
        (["pause", {"notify": "log"}], [PauseAction, NotifyAction], ["pause", "notify:log"]),
        (["resume"], [ResumeAction], ["resume"]),
        ([{"resume": None}], [ResumeAction], ["resume"]),
        ([{"resume": {"after": "1h30m"}}], [ResumeAction], ["resume after 1h30m"]),
        ([{"resume": {"max_times": 1}}], [ResumeAction], ["resume (at most 1 times)"]),
        (["cancel", {"notify": "log"}], None, ["cancel", "notify:log"]),
    ],
)
def test_actions_are_written_as_words_or_one_key_mappings(
    do: list[Any], kinds: list[type] | None, described: list[str]
) -> None:
    rule = parse_rules({"rules": [one_rule(do=do)]}).rules[0]
    if kinds is not None:
        assert [type(action) for action in rule.do] == kinds
    assert rule.describe_actions() == described


def test_resume_options_are_parsed() -> None:
    rule = parse_rules({"rules": [one_rule(do=[{"resume": {"after": "10m", "max_times": 2}}])]})
    action = rule.rules[0].do[0]
    assert isinstance(action, ResumeAction)
    assert action.resume.after == 600
    assert action.resume.max_times == 2


@pytest.mark.parametrize(
    ("do", "message"),
    [
        (["pause", "pause"], "rules[0].do: at most one of pause, cancel"),
        (["cancel", "resume"], "rules[0].do: cannot resume a job it cancels"),
        (["resume", {"resume": {"after": 5}}], "rules[0].do: at most one resume"),
        ([{"notify": "log"}, {"notify": "log"}], "rules[0].do: notifies 'log' twice"),
        ([{"notify": "log", "pause": None}], "rules[0].do[0]: must have exactly one key"),
        ([{"resume": {"later": "5m"}}], "rules[0].do[0].resume.later: unknown field"),
        ([{"pause": {"now": True}}], "rules[0].do[0].pause: unknown field"),
        ([42], "rules[0].do[0]: must be a mapping with one key"),
    ],
)
def test_inconsistent_actions_are_refused(do: list[Any], message: str) -> None:
    errors = errors_of({"rules": [one_rule(do=do)]})
    assert errors[0].startswith(message), errors


@pytest.mark.parametrize(
    ("receiver", "message"),
    [
        ({"url": "https://x.example/h"}, "receivers[0].secret_env: required for format standard"),
        (
            {"url": "https://x.example", "format": "pagerduty"},
            "receivers[0].secret_env: required for format pagerduty",
        ),
        ({"url": "file:///etc/passwd", "format": "slack"}, "receivers[0].url: must be an http"),
        ({"url": "https://", "format": "slack"}, "receivers[0].url: must be an http"),
        ({"url": "http://a b", "format": "slack"}, "receivers[0].url: must be an http"),
        ({"url": "https://x.example", "format": "teams"}, "receivers[0].format: must be"),
        (
            {"url": "https://x.example", "format": "slack", "secret_env": "bad-name"},
            "receivers[0].secret_env: must be an environment variable name",
        ),
        (
            {"url": "https://x.example", "format": "slack", "headers": {"X-A": "a\r\nB: c"}},
            "receivers[0].headers: the value of 'X-A' must not contain line breaks",
        ),
        (
            {"url": "https://x.example", "format": "slack", "timeout": "0s"},
            "receivers[0].timeout: must be a positive duration",
        ),
        (
            {"url": "https://x.example", "format": "slack", "max_concurrency": 0},
            "receivers[0].max_concurrency: must be >= 1",
        ),
    ],
)
def test_receivers_are_checked(receiver: dict[str, Any], message: str) -> None:
    errors = errors_of({"receivers": [{"name": "ops", **receiver}], "rules": []})
    assert errors[0].startswith(message), errors


def test_a_receiver_may_not_take_the_built_in_log_name() -> None:
    errors = errors_of(
        {"receivers": [{"name": "log", "url": "https://x.example", "format": "slack"}], "rules": []}
    )
    assert errors == ["receivers[0].name: 'log' is the built-in log receiver; choose another name"]


def test_receivers_keep_their_options() -> None:
    rules = parse_rules(
        {
            "receivers": [
                {
                    "name": "chat",
                    "url": "https://hooks.slack.com/services/T/B/X",
                    "format": "slack",
                    "timeout": "3s",
                    "headers": {"X-Team": "ml"},
                    "max_concurrency": 2,
                }
            ],
            "rules": [one_rule(do=[{"notify": "chat"}])],
        }
    )
    chat = rules.receiver("chat")
    assert chat is not None
    assert (chat.secret_env, chat.timeout, chat.headers, chat.max_concurrency) == (
        None,
        3.0,
        {"X-Team": "ml"},
        2,
    )
    assert rules.receiver("log") is None
    assert rules.rule("r") is rules.rules[0]


W = "rules[0].when"
CONDITION_ERRORS = [
    (
        {"threshold": {"metric": "x", "above": 1, "below": 2}},
        f"{W}.threshold.below: must be < above",
    ),
    ({"threshold": {"metric": "", "non_finite": True}}, f"{W}.threshold.metric: must not be empty"),
    ({"plateau": {"metric": "m", "smoothing": 1}}, f"{W}.plateau.smoothing: must be < 1"),
    ({"plateau": {"metric": "m", "min_delta": -0.1}}, f"{W}.plateau.min_delta: must be >= 0"),
    ({"plateau": {"metric": "m", "patience": 2.5}}, f"{W}.plateau.patience: must be an integer"),
    (
        {"plateau": {"metric": "m", "min_delta": float("nan")}},
        f"{W}.plateau.min_delta: must be a finite number",
    ),
    ({"plateau": None}, f"{W}.plateau: must be a mapping"),
    ({"error_rate": {"window_steps": 0}}, f"{W}.error_rate.window_steps: must be >= 1"),
    ({"stalled": {}}, f"{W}.stalled.for: required"),
    (
        {"stalled": {"for": "1h", "statuses": ["runing"]}},
        f"{W}.stalled.statuses: unknown status 'runing'",
    ),
    ({"status": []}, f"{W}.status: must not be empty"),
    ("plateau", f"{W}: must be a mapping with one key"),
    ({}, f"{W}: must be a mapping with one key"),
]


@pytest.mark.parametrize(("when", "message"), CONDITION_ERRORS)
def test_conditions_are_checked(when: Any, message: str) -> None:
    errors = errors_of({"rules": [one_rule(when=when)]})
    assert errors[0].startswith(message), errors


def test_condition_defaults() -> None:
    rules = parse_rules(
        {
            "rules": [
                one_rule(name="p", when={"plateau": {"metric": "valid_reward_mean"}}),
                one_rule(name="e", when={"error_rate": {}}),
                one_rule(name="s", when={"stalled": {"for": 90}}),
            ]
        }
    )
    plateau, errors, stalled = (r.when for r in rules.rules)
    assert plateau.plateau.model_dump() == {  # type: ignore[attr-defined]
        "metric": "valid_reward_mean",
        "mode": "max",
        "patience": 3,
        "min_delta": 0.0,
        "min_delta_rel": 0.0,
        "warmup_steps": 0,
        "smoothing": 0.0,
        "baseline": None,
    }
    assert errors.error_rate.threshold == 0.25  # type: ignore[attr-defined]
    assert errors.error_rate.clear_level == 0.125  # type: ignore[attr-defined]
    assert stalled.stalled.for_ == 90  # type: ignore[attr-defined]
    assert stalled.stalled.statuses == ["running"]  # type: ignore[attr-defined]


def test_rule_names_are_identifiers() -> None:
    errors = errors_of({"rules": [one_rule(name="no spaces please")]})
    assert errors == [
        "rules[0].name: must be 1-64 letters, digits, '_', '.' or '-', starting alphanumeric"
    ]


def test_openais_older_status_names_are_mapped_on_load() -> None:
    doc = {
        "rules": [
            one_rule(name="a", when={"status": ["validating_files", "pending", "succeeded"]}),
            one_rule(name="b", when={"stalled": {"for": "1h", "statuses": "pending"}}),
        ]
    }
    first, second = parse_rules(doc).rules
    assert first.when.status == ["validating", "queued", "succeeded"]  # type: ignore[attr-defined]
    assert second.when.stalled.statuses == ["queued"]  # type: ignore[attr-defined]
