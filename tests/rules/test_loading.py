from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from workers.rules.config import RulesFile
from workers.rules.errors import RulesError
from workers.rules.loading import (
    check_env,
    configured_rules,
    default_rules,
    load_rules,
    parse_rules,
    parse_rules_text,
)

SPEC_EXAMPLE = """\
receivers:
  - name: ops
    url: https://hooks.example.com/ftwatch
    format: standard          # standard | slack | alertmanager | pagerduty
    secret_env: OPS_WEBHOOK_SECRET   # whsec_… secret for Standard Webhooks signing
rules:
  - name: reward-plateau
    match:                    # optional; every key given must match the job
      method: reinforcement   # supervised | dpo | reinforcement
      metadata: {team: search}
      model: o4-mini*         # glob on the base model
    when:
      plateau:
        metric: valid_reward_mean
        mode: max             # max | min
        patience: 3           # evaluations (values of the metric) in a row without improvement
        min_delta: 0.01       # an improvement must beat the best by more than this ...
        min_delta_rel: 0.0    # ... and by more than this fraction of |best|
        warmup_steps: 0       # values before this step set the best but never count toward patience
        smoothing: 0          # EMA factor 0..1 for noisy metrics such as train_reward_mean
    do: [pause, {notify: ops}]
    cooldown: 30m             # after firing, ignore this rule for the job this long (optional)
    dry_run: false            # true: record and notify what it would do, call nothing upstream
  - name: grader-errors
    when:
      error_rate:
        threshold: 0.25       # grader error rate: for each grader the sum of its train_*_error_mean
                              # rates, worst grader, averaged over the window
        window_steps: 5       # fires only once the window is full
        clear_below: 0.05     # re-arms below this (hysteresis); default threshold / 2
    do: [pause, {notify: ops}, {resume: {after: 10m, max_times: 2}}]
  - name: loss-divergence
    when:
      threshold: {metric: train_loss, above: 5.0, non_finite: true}
    do: [cancel, {notify: ops}]
  - name: stalled
    when:
      stalled: {for: 30m}     # running, yet no new event
    do: [{notify: ops}]
  - name: finished
    when:
      status: [succeeded, failed, cancelled]
    do: [{notify: ops}]
"""


def errors_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as caught:
        parse_rules_text(textwrap.dedent(text))
    return caught.value.errors


def test_the_spec_example_loads_with_every_field_understood() -> None:
    rules = parse_rules_text(SPEC_EXAMPLE)
    assert [r.name for r in rules.rules] == [
        "reward-plateau",
        "grader-errors",
        "loss-divergence",
        "stalled",
        "finished",
    ]
    assert [r.kind for r in rules.rules] == [
        "plateau",
        "error_rate",
        "threshold",
        "stalled",
        "status",
    ]
    plateau = rules.rules[0]
    assert plateau.cooldown == 1800
    assert plateau.describe_actions() == ["pause", "notify:ops"]
    assert rules.rules[1].describe_actions() == [
        "pause",
        "notify:ops",
        "resume after 10m (at most 2 times)",
    ]
    assert rules.receiver("ops") is not None
    assert rules.receivers[0].timeout == 10.0


def test_a_bad_field_is_reported_at_its_location_as_the_user_wrote_it() -> None:
    errors = errors_of(
        """
        rules:
          - {name: a, when: {status: succeeded}, do: [{notify: log}]}
          - {name: b, when: {status: failed}, do: [{notify: log}]}
          - name: c
            when: {plateau: {metric: valid_reward_mean, patience: 0}}
            do: [pause]
        """
    )
    assert errors == ["rules[2].when.plateau.patience: must be >= 1"]


def test_every_mistake_is_reported_in_file_order() -> None:
    errors = errors_of(
        """
        receivers:
          - {name: ops, url: "ftp://x", format: standard}
          - {name: ops, url: "https://x.example", format: slack, headers: {webhook-id: x}}
        rules:
          - name: a
            when: {plateau: {metric: m, patiense: 2, mode: up}}
            do: [pause, cancel]
          - name: a
            when: {bogus: {}}
            do: [stop, {notify: nobody}, {resume: {after: 5x, max_times: 0}}]
          - name: c
            when: {error_rate: {threshold: 0.2, clear_below: 0.3}, threshold: {metric: x}}
            do: []
          - name: d
            when: {error_rate: {threshold: 0.2, clear_below: 0.3}}
            do: [notify]
            cooldown: -1
            dry_run: maybe
          - name: e
            match: {method: rft, model: 3, metadata: {team: 1}}
            when: {stalled: {for: 10q}}
            do: [{notify: ops}]
          - name: f
            when: {threshold: {metric: x}, }
            do: [{notify: log}]
        """
    )
    assert errors == [
        "receivers[0].url: must be an http:// or https:// URL with a host",
        "receivers[0].secret_env: required for format standard (the name of an environment"
        " variable)",
        "receivers[1].headers: 'webhook-id' is not a header name this receiver may set",
        "receivers[1].name: duplicate receiver name 'ops' (first at receivers[0])",
        "rules[0].when.plateau.mode: must be 'max' or 'min'",
        "rules[0].when.plateau.patiense: unknown field (did you mean 'patience'?)",
        "rules[0].do: at most one of pause, cancel",
        "rules[1].when: unknown condition 'bogus' (expected plateau, error_rate, threshold,"
        " stalled, status)",
        "rules[1].do[0]: unknown action 'stop' (expected pause, resume, cancel or notify)",
        "rules[1].do[2].resume.after: '5x' is not a duration such as 30s, 10m, 2h or 1h30m",
        "rules[1].do[2].resume.max_times: must be >= 1",
        "rules[1].name: duplicate rule name 'a' (first at rules[0])",
        "rules[1].do[1].notify: unknown receiver 'nobody' (declared: ops, log)",
        "rules[2].when: must have exactly one key (plateau, error_rate, threshold, stalled,"
        " status), got error_rate, threshold",
        "rules[2].do: must not be empty",
        "rules[3].when.error_rate.clear_below: must be < threshold (0.2)",
        "rules[3].do[0].notify: required",
        "rules[3].cooldown: must be a positive duration",
        "rules[3].dry_run: must be true or false",
        "rules[4].match.method[0]: must be 'supervised', 'dpo' or 'reinforcement'",
        "rules[4].match.metadata.team: must be a string (quote it)",
        "rules[4].match.model: must be a string or a list of strings",
        "rules[4].when.stalled.for: '10q' is not a duration such as 30s, 10m, 2h or 1h30m",
        "rules[5].when.threshold: needs at least one of above, below, non_finite: true",
    ]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("rules: [\n  {name: a\n", "line 3, column 1: did not find expected ',' or '}'"),
        (
            "rules:\n  - name: a\n   when: x\n",
            "line 3, column 4: did not find expected '-' indicator",
        ),
        ("rules: []\nrules: []\n", "line 2, column 1: found duplicate key 'rules'"),
        ("", "(document): empty; expected a mapping with `rules` (and `receivers`)"),
        ("- a\n- b\n", "(document): must be a mapping with `rules` (and `receivers`)"),
        ("receivers: []\n", "rules: required"),
        ("rules: []\nversion: 2\n", "version: unknown field"),
        ("rules: [{when: {status: failed}, do: [pause]}]\n", "rules[0].name: required"),
        ("rules: []\nat: 2024-13-45\n", "(document): invalid YAML value: month must be in 1..12"),
    ],
)
def test_documents_that_are_not_rules_files_say_where_and_why(text: str, error: str) -> None:
    errors = errors_of(text)
    assert len(errors) == 1
    assert errors[0].startswith(error)


def test_yaml_merge_keys_may_override_what_they_merge() -> None:
    rules = parse_rules_text(
        "rules:\n"
        "  - name: a\n"
        "    when: {plateau: &p {metric: valid_reward_mean, patience: 3}}\n"
        "    do: [pause]\n"
        "  - name: b\n"
        "    when: {plateau: {<<: *p, patience: 5}}\n"
        "    do: [pause]\n"
    )
    assert [r.when.plateau.patience for r in rules.rules] == [3, 5]  # type: ignore[attr-defined]


def test_alias_bombs_and_self_references_are_refused_without_expanding_them() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    assert errors_of("\n".join([*lines, "rules: []"])) == [
        "line 5, column 5: more than 40000 values once aliases are expanded"
    ]
    assert errors_of("rules: &r [*r]\n") == [
        "line 1, column 8: an alias refers to a node that contains it"
    ]


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(RulesError) as caught:
        load_rules(path)
    assert caught.value.errors == [f"{path}: no such file"]


def test_a_rules_file_on_disk_loads(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(SPEC_EXAMPLE, encoding="utf-8")
    assert len(load_rules(path).rules) == 5
    assert configured_rules(path) == load_rules(path)
    assert configured_rules(None) == default_rules()


def test_the_defaults_cover_plateau_grader_errors_divergence_stall_and_completion() -> None:
    rules = default_rules()
    by_name = {rule.name: rule for rule in rules.rules}
    assert rules.receivers == []
    plateau = by_name["reward-plateau"]
    assert plateau.match is not None and plateau.match.method == ["reinforcement"]
    assert plateau.when.plateau.metric == "valid_reward_mean"  # type: ignore[attr-defined]
    assert plateau.when.plateau.patience == 3  # type: ignore[attr-defined]
    assert plateau.when.plateau.min_delta == 0.01  # type: ignore[attr-defined]
    errors = by_name["grader-errors"]
    assert errors.when.error_rate.threshold == 0.25  # type: ignore[attr-defined]
    assert errors.when.error_rate.window_steps == 5  # type: ignore[attr-defined]
    assert errors.when.error_rate.clear_level == 0.125  # type: ignore[attr-defined]
    assert errors.describe_actions() == [
        "pause",
        "resume after 10m (at most 2 times)",
        "notify:log",
    ]
    divergence = by_name["loss-divergence"]
    assert divergence.match is not None and divergence.match.method == ["supervised", "dpo"]
    assert divergence.describe_actions() == ["cancel", "notify:log"]
    assert by_name["finished"].when.status == ["succeeded", "failed", "cancelled"]  # type: ignore[attr-defined]
    assert by_name["stalled"].kind == "stalled"
    assert check_env(rules, {}) == []


def test_check_env_names_each_receiver_whose_secret_is_missing() -> None:
    rules = parse_rules_text(
        textwrap.dedent(
            """
            receivers:
              - {name: ops, url: "https://a.example/h", secret_env: OPS_SECRET}
              - {name: pd, url: "https://events.pagerduty.com/v2/enqueue", format: pagerduty,
                 secret_env: PD_KEY}
              - {name: chat, url: "https://hooks.slack.com/x", format: slack}
              - {name: bad, url: "https://b.example/h", secret_env: BAD_SECRET}
            rules: []
            """
        )
    )
    environ = {"PD_KEY": "", "BAD_SECRET": "whsec_not*base64", "UNRELATED": "x"}
    assert check_env(rules, environ) == [
        "receivers[0].secret_env: environment variable OPS_SECRET is not set",
        "receivers[1].secret_env: environment variable PD_KEY is not set",
        "receivers[3].secret_env: BAD_SECRET is not a valid whsec_ secret (base64 after whsec_)",
    ]
    good = {
        "OPS_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "PD_KEY": "k",
        "BAD_SECRET": "x",
    }
    assert check_env(rules, good) == []


def test_validating_the_model_directly_still_checks_cross_references() -> None:
    raw = {"rules": [{"name": "a", "when": {"status": "failed"}, "do": [{"notify": "ops"}]}]}
    with pytest.raises(ValidationError, match="unknown receiver 'ops'"):
        RulesFile.model_validate(raw)


# Arbitrary documents, biased toward the rules file's own vocabulary so that hypothesis
# reaches deep into the schema rather than failing at the top level every time.
_WORDS = st.sampled_from(
    [
        "rules", "receivers", "name", "when", "do", "match", "plateau", "error_rate",
        "threshold", "stalled", "status", "metric", "patience", "mode", "for", "notify",
        "resume", "pause", "cancel", "after", "max_times", "url", "format", "secret_env",
        "cooldown", "dry_run", "metadata", "method", "model", "above", "below", "log",
        "non_finite", "window_steps", "clear_below", "headers", "timeout", "failed",
    ]
)  # fmt: skip
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | _WORDS
    | st.sampled_from(["10m", "https://x.example/h", "whsec_x", "reinforcement", "0"])
)
_DOCS = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(_WORDS | st.text(max_size=6) | st.integers(), inner, max_size=5)
    ),
    max_leaves=40,
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.dictionaries(_WORDS, _DOCS, max_size=3) | _DOCS)
def test_arbitrary_documents_are_accepted_or_rejected_never_crash(doc: Any) -> None:
    try:
        result = parse_rules(doc)
    except RulesError as exc:
        assert exc.errors and all(isinstance(line, str) and line for line in exc.errors)
    else:
        assert isinstance(result, RulesFile)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_is_accepted_or_rejected_never_crash(text: str) -> None:
    try:
        parse_rules_text(text)
    except RulesError as exc:
        assert exc.errors
