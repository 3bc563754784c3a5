"""`rules check` against the providers' capabilities (SPEC §4): an action no provider a
rule matches can do is an error, one only some can do a warning naming who cannot and why."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from service.app import load_rules
from workers.rules.capability_check import capability_warnings, carriers
from workers.rules.cli import check_command
from workers.rules.loading import default_rules, parse_rules_text

PROVIDERS = """providers:
  - {name: openai, kind: openai}
  - {name: az-ga, kind: azure_openai, endpoint: "https://a.example", api_version: "2024-10-21"}
  - {name: az-v1, kind: azure_openai, endpoint: "https://a.example"}
"""
GA_LACKS = "Azure's api-version 2024-10-21 has no {}; use a preview version or v1"


def check(tmp_path: Path, text: str) -> tuple[int, list[str]]:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    out = io.StringIO()
    return check_command(str(path), out), out.getvalue().splitlines()


def test_an_action_some_matched_providers_lack_is_a_warning(tmp_path: Path) -> None:
    code, lines = check(
        tmp_path,
        PROVIDERS + "rules:\n"
        "  - {name: plateau, when: {stalled: {for: 1m}}, do: [{notify: log}, pause, resume]}\n",
    )
    assert code == 0
    assert lines == [
        "warning: rules[0].do[1]: rule 'plateau' asks to pause: az-ga cannot"
        f" ({GA_LACKS.format('pause')}), so its jobs there record it as unsupported;"
        " openai, az-v1, ingest can",
        "warning: rules[0].do[2]: rule 'plateau' asks to resume: az-ga cannot"
        f" ({GA_LACKS.format('resume')}), so its jobs there record it as unsupported;"
        " openai, az-v1, ingest can",
        "ok: 1 rule, 0 receivers",
    ]


def test_an_action_no_matched_provider_has_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = PROVIDERS + (
        "rules:\n"
        "  - {name: ok, match: {provider: az-*}, when: {stalled: {for: 1m}}, do: [cancel]}\n"
        "  - name: ga-pause\n"
        "    match: {provider: az-ga, method: reinforcement}\n"
        "    when: {stalled: {for: 1m}}\n"
        "    do: [{notify: log}, pause]\n"
    )
    code, lines = check(tmp_path, text)
    assert code == 1
    assert lines == [
        "rules[1].do[1]: rule 'ga-pause' asks to pause, which no provider it matches can:"
        f" az-ga cannot ({GA_LACKS.format('pause')})"
    ]
    # The service runs it (logging the error): the executor records each such pause as
    # unsupported and notifies it, rather than every other job going unwatched.
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "k")
    with capture_logs() as logs:
        assert load_rules(tmp_path / "rules.yaml").rule("ga-pause") is not None
    (logged,) = [e for e in logs if e["event"] == "rule_action_unsupported"]
    assert (logged["log_level"], logged["problem"]) == (
        "error",
        f"{tmp_path / 'rules.yaml'}: {lines[0]}",
    )


def test_actions_every_matched_provider_has_say_nothing(tmp_path: Path) -> None:
    text = PROVIDERS + (
        "rules:\n"
        "  - {name: a, match: {provider: [openai, az-v1]}, when: {status: failed}, do: [pause]}\n"
        "  - {name: b, match: {provider: ingest}, when: {status: failed}, do: [pause, resume]}\n"
        "  - {name: c, when: {status: failed}, do: [cancel, {notify: log}]}\n"
        "  - {name: d, match: {provider: nobody-*}, when: {status: failed}, do: [pause]}\n"
    )
    assert check(tmp_path, text) == (0, ["ok: 4 rules, 0 receivers"])


def test_carriers_name_who_can_who_cannot_and_the_ingest_caveats() -> None:
    rules = parse_rules_text(
        PROVIDERS + "rules: [{name: r, when: {status: failed}, do: [pause, {notify: log}]}]\n"
    )
    (pause,) = carriers(rules, rules.rules[0])
    assert (pause.action, pause.index) == ("pause", 0)
    assert pause.can == ("openai", "az-v1", "ingest")
    assert pause.cannot == {"az-ga": GA_LACKS.format("pause")}
    assert pause.notes == {
        "ingest": "a decision the trainer acts on: it saves a checkpoint and stops"
    }


def test_the_built_in_defaults_warn_of_nothing() -> None:
    assert capability_warnings(default_rules()) == []
